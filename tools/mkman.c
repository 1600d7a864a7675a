/*
 * mkman.c - fills a man page template (stdin to stdout) from the settings
 * table of preload/config.c, so the pages say what `accel --help` says:
 * a line "@VARIABLES@" becomes the table of ACCEL_* variables, a line
 * "@PROFILES@" the built-in profiles, and "@VERSION@" the version.
 */
#include <stdio.h>
#include <string.h>

#include "../preload/config.h"

#ifndef ACCEL_VERSION
#define ACCEL_VERSION "0.1.0"
#endif

/* Text for roff: a backslash is \e, a line never starts with '.' or '\''. */
static void roff(const char *s, int n)
{
	if (n && (*s == '.' || *s == '\''))
		fputs("\\&", stdout);
	for (int i = 0; i < n && s[i]; i++) {
		if (s[i] == '\\')
			fputs("\\e", stdout);
		else if (s[i] == '-')
			fputs("\\-", stdout);
		else
			putchar(s[i]);
	}
}

static void variables(void)
{
	for (const struct accel_var *v = accel_vars; v->name; v++) {
		printf(".TP\n.B %s\n", v->name);
		roff(v->help, (int)strlen(v->help));
		printf(".\n.br\nDefault: ");
		if (v->def) {
			printf("\\fB");
			roff(v->def, (int)strlen(v->def));
			printf("\\fR.\n");
		} else {
			printf("unset.\n");
		}
	}
}

static void profiles(void)
{
	for (const struct accel_builtin_profile *b = accel_profiles; b->name; b++) {
		printf(".TP\n.B %s\n", b->name);
		for (const char *s = b->settings; *s; ) {
			const char *nl = strchr(s, '\n');
			int n = nl ? (int)(nl - s) : (int)strlen(s);

			printf("\\fB");
			roff(s, n);
			printf("\\fR\n.br\n");
			s += n + (nl ? 1 : 0);
		}
		roff(b->why, (int)strlen(b->why));
		printf(".\n");
	}
}

int main(void)
{
	char line[4096];

	while (fgets(line, sizeof(line), stdin)) {
		char *at;

		if (!strcmp(line, "@VARIABLES@\n")) {
			variables();
			continue;
		}
		if (!strcmp(line, "@PROFILES@\n")) {
			profiles();
			continue;
		}
		while ((at = strstr(line, "@VERSION@"))) {
			char rest[sizeof(line)];

			snprintf(rest, sizeof(rest), "%s", at + 9);
			snprintf(at, sizeof(line) - (size_t)(at - line), "%s%s",
				 ACCEL_VERSION, rest);
		}
		fputs(line, stdout);
	}
	return ferror(stdout) ? 1 : 0;
}
