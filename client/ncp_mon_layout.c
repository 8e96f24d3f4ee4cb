#include "client/ncp_mon_layout.h"

#include <errno.h>

int ncp_mon_layout_compute(int cols, int lines, struct ncp_mon_layout *l)
{
	int body, m1_h, upper;

	if (cols < NCP_MON_LAYOUT_MIN_COLS || lines < NCP_MON_LAYOUT_MIN_LINES)
		return -ERANGE;
	body = lines - 1;
	m1_h = body / 3;
	if (m1_h < NCP_MON_LAYOUT_M1_MIN_H)
		m1_h = NCP_MON_LAYOUT_M1_MIN_H;
	if (m1_h > 40)
		m1_h = 40;
	upper = body - m1_h;
	l->title = (struct ncp_mon_rect){ 0, 0, cols, 1 };
	l->numbers = (struct ncp_mon_rect){ cols - NCP_MON_LAYOUT_NUMBERS_W, 1,
					    NCP_MON_LAYOUT_NUMBERS_W, upper };
	l->sep_x = l->numbers.x - 1;
	l->work = (struct ncp_mon_rect){ 0, 1, l->sep_x, upper };
	l->m1 = (struct ncp_mon_rect){ 0, 1 + upper, cols, m1_h };
	return 0;
}
