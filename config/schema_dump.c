/* config/schema_dump.c: callhook_schema, a build tool that prints the config table for callhook.conf(5).
 * usage: callhook_schema [OUT] (default standard output). One setting a line:
 * path TAB type TAB default TAB range TAB flags ("-" when empty); flags is a
 * comma-separated subset of required, secret, restart, nonempty. */
#include "config/config.h"

#include <stdio.h>

static void line(const struct cfg_setting_info *s, void *arg)
{
	FILE *f = arg;
	char flags[64];
	int r = snprintf(flags, sizeof(flags), "%s%s%s%s", s->required ? ",required" : "", s->secret ? ",secret" : "",
			 s->restart ? ",restart" : "", s->nonempty ? ",nonempty" : "");
	(void)r;
	fprintf(f, "%s\t%s\t%s\t%s\t%s\n", s->path, s->type, s->def ? s->def : "-", s->range ? s->range : "-",
		flags[0] ? flags + 1 : "-");
}

int main(int argc, char **argv)
{
	FILE *f = argc > 1 ? fopen(argv[1], "w") : stdout;
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	cfg_each_setting(line, f);
	int bad = ferror(f);
	if (f != stdout)
		bad |= fclose(f);
	else
		bad |= fflush(f);
	return bad ? 1 : 0;
}
