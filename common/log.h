/*
 * log.h - the shim's one voice: a line on stderr, prefixed with
 * "libaccel[pid]", at or above the level ACCEL_LOG sets. Written with one
 * write(2) so lines from threads never interleave, and never through stdio,
 * so the program's own stdout and stderr buffers are left alone.
 */
#ifndef ACCEL_COMMON_LOG_H
#define ACCEL_COMMON_LOG_H

#include <stdarg.h>

enum accel_log_level {
	ACCEL_LOG_NONE = 0,
	ACCEL_LOG_ERROR,
	ACCEL_LOG_WARN,
	ACCEL_LOG_INFO,
	ACCEL_LOG_DEBUG,
};

extern int accel_log_level;

void accel_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void accel_vlog(int level, const char *fmt, va_list ap);

#define ACCEL_ERR(...) accel_log(ACCEL_LOG_ERROR, __VA_ARGS__)
#define ACCEL_WARN(...) accel_log(ACCEL_LOG_WARN, __VA_ARGS__)
#define ACCEL_INFO(...) accel_log(ACCEL_LOG_INFO, __VA_ARGS__)
#define ACCEL_DEBUG(...) accel_log(ACCEL_LOG_DEBUG, __VA_ARGS__)

#endif
