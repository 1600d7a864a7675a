/*
 * policy.c - ACCEL_STORAGE: which files take the storage path. See
 * storage.h.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "storage.h"

int st_policy_parse(struct st_policy *p, const char *spec)
{
	char *s, *save = NULL;

	memset(p, 0, sizeof(*p));
	if (!spec || !*spec)
		return 0; /* unset: no file takes the storage path */
	if (strlen(spec) >= sizeof(p->buf))
		return -EINVAL;
	memcpy(p->buf, spec, strlen(spec) + 1);
	for (s = strtok_r(p->buf, ":", &save); s; s = strtok_r(NULL, ":", &save)) {
		/* Absolute only: the path matched is the file's own, from
		 * /proc/self/fd, which is always absolute. */
		if (s[0] != '/' || p->n == ST_POLICY_MAX)
			goto bad;
		p->glob[p->n++] = s;
	}
	/* "a::b" or ":" leave an empty pattern: a typo, not "match none". */
	if (!p->n || strstr(spec, "::") || spec[0] == ':' ||
	    spec[strlen(spec) - 1] == ':')
		goto bad;
	return 0;
bad:
	memset(p, 0, sizeof(*p));
	return -EINVAL;
}

int st_policy_match(const struct st_policy *p, const char *path)
{
	for (unsigned i = 0; i < p->n; i++)
		if (fnmatch(p->glob[i], path, FNM_PATHNAME) == 0)
			return 1;
	return 0;
}

const char *st_reason_name(enum st_reason r)
{
	static const char *const names[ST_R_MAX] = {
		[ST_R_DEVICE] = "device",
		[ST_R_HOLE] = "hole",
		[ST_R_UNWRITTEN] = "unwritten",
		[ST_R_FLAGS] = "extent_flags",
		[ST_R_UNALIGNED_EXTENT] = "unaligned_extent",
		[ST_R_EOF] = "eof",
		[ST_R_DIRTY] = "dirty",
		[ST_R_MMAP] = "mmap",
		[ST_R_NO_DEVICE] = "no_device",
		[ST_R_CHILD] = "child",
		[ST_R_FLAGS_CALL] = "call_flags",
		[ST_R_BADARG] = "bad_argument",
		[ST_R_NO_QUEUE] = "no_queue",
		[ST_R_OTHER_WRITER] = "other_writer",
	};

	return (unsigned)r < ST_R_MAX ? names[r] : "?";
}
