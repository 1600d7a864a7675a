/*
 * log.c - see log.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "real.h"

int accel_log_level = ACCEL_LOG_WARN;

static const char *const level_names[] = { "", "error", "warning", "info",
					   "debug" };

void accel_vlog(int level, const char *fmt, va_list ap)
{
	char line[1100]; /* (every bad setting in one line) */
	int saved = errno;
	int n;

	if (level > accel_log_level || level <= ACCEL_LOG_NONE)
		return;
	n = snprintf(line, sizeof(line), "libaccel[%d]: %s: ", (int)getpid(),
		     level_names[level]);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (n >= (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	while (n > 0 && line[n - 1] == '\n')
		n--;
	line[n++] = '\n';
	(void)!accel_real.write(STDERR_FILENO, line, (size_t)n);
	errno = saved;
}

void accel_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	accel_vlog(level, fmt, ap);
	va_end(ap);
}
