/*
 * spin.c - the waits' spin budget and the idle slice. See spin.h.
 */
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "spin.h"

void sk_spin_init(struct sk_spin *sp, uint64_t fixed_ns, int woken)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	sp->near_ns = woken ? SK_SPIN_NEAR_WAKE_NS : SK_SPIN_NEAR_NS;
	sp->fixed = fixed_ns != SK_SPIN_ADAPTIVE;
	sp->budget_ns = sp->fixed ? fixed_ns : SK_SPIN_START_NS;
	sp->looked_at = 0;
	sp->preempted = 0;
	sp->woken = woken != 0;
	sp->first = 0;
	sp->room_at = 0;
	sp->running = 0;
	sp->ncpu = n > 0 ? (unsigned)n : 1;
}

void sk_spin_room(struct sk_spin *sp, uint64_t now, unsigned running)
{
	sp->room_at = now;
	sp->running = running;
}

unsigned sk_spin_parse_running(const char *text)
{
	unsigned r = 0;
	int fields = 0;

	/* the fourth field, "R/T" */
	for (const char *p = text; *p && fields < 4; p++) {
		if (*p == ' ') {
			fields++;
			continue;
		}
		if (fields < 3)
			continue;
		if (*p < '0' || *p > '9')
			return *p == '/' ? r : 0;
		r = r * 10 + (unsigned)(*p - '0');
		if (r > 1000000)
			return 0;
	}
	return 0;
}

/* Raw system calls: the program's own open and read are interposed (a
 * /proc file is no business of theirs), and this runs in a unit test
 * with no accel_real table. */
static unsigned read_running(void)
{
	char buf[128];
	long n, fd = syscall(SYS_openat, AT_FDCWD, "/proc/loadavg", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = syscall(SYS_read, (int)fd, buf, sizeof buf - 1);
	syscall(SYS_close, (int)fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return sk_spin_parse_running(buf);
}

int sk_spin_crowded(struct sk_spin *sp, uint64_t now, uint64_t age_ns)
{
	if (sp->room_at == 0 || now >= sp->room_at + age_ns)
		sk_spin_room(sp, now, read_running());
	return sp->running > sp->ncpu;
}

static uint64_t grown(uint64_t b)
{
	return b >= SK_SPIN_MAX_NS / 2 ? SK_SPIN_MAX_NS : b * 2;
}

static uint64_t shrunk(uint64_t b)
{
	b -= b / 8;
	return b <= SK_SPIN_MIN_NS ? SK_SPIN_MIN_NS : b;
}

void sk_spin_learn(struct sk_spin *sp, uint64_t took_ns, int slept, int got)
{
	uint64_t b = sp->budget_ns;

	if (sp->fixed)
		return;
	if (sp->preempted) {
		sp->preempted = 0;
		b = b / 2 <= SK_SPIN_MIN_NS ? SK_SPIN_MIN_NS : b / 2;
	} else if (slept && took_ns > sp->near_ns)
		b = shrunk(b); /* nothing a spin could have caught */
	else if (got && (slept || took_ns > b / 2))
		b = grown(b); /* caught late in the spin, or just missed */
	sp->budget_ns = b;
}

unsigned sk_idle_stretch(uint64_t base_ns, uint64_t idle_ns)
{
	uint64_t k = base_ns ? idle_ns / base_ns / SK_IDLE_STRETCH + 1 : 1;

	return k >= SK_IDLE_SLICE_MAX ? SK_IDLE_SLICE_MAX : (unsigned)k;
}
