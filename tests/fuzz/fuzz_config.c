/* tests/fuzz/fuzz_config.c: fuzz the config loader (and the hook compiler on what loads): no crash, no leak, errors say
 * something. */
#include "common/common.h"
#include "config/config.h"
#include "hook/hook.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Input: the config text. Relative file names resolve in a private folder
 * that holds "token.key" (a 40-byte secret, 0600), "short.key" (too short),
 * "open.key" (world-readable) and "rcc.json" (a small restClientConfig), so
 * the secret-file and rcc paths are reachable. */

#define INPUT_MAX 16384

static char dir[64];

static void put(const char *name, const char *text, mode_t mode)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void init(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fuzz-config-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	ch_log_set_level(CH_LOG_ERROR); /* compile warnings would flood the fuzzer's output */
	put("token.key", "0123456789abcdef0123456789abcdef01234567\n", 0600);
	put("short.key", "tooshort", 0600);
	put("open.key", "0123456789abcdef0123456789abcdef01234567", 0644);
	put("rcc.json", "{\"call\":{\"restPolicy\":\"NOTIFY\",\"restOverwrite\":\"callee\"},\"hangup\":{}}", 0644);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		init();
	if (size > INPUT_MAX)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct cfg *cfg = NULL;
	struct cfg_error err;
	memset(&err, 0, sizeof(err));
	int rc = cfg_load_string(text, "fuzz.conf", dir, &cfg, &err);
	if (rc != 0) {
		/* a refusal always says what and where */
		if (cfg != NULL || err.msg[0] == '\0')
			abort();
		char line[1024];
		cfg_error_format(&err, line, sizeof(line));
		if (line[0] == '\0')
			abort();
	} else {
		if (!cfg)
			abort();
		const char *secrets[64];
		size_t n = cfg_secrets(cfg, secrets, 64);
		for (size_t i = 0; i < n && i < 64; i++)
			if (!secrets[i])
				abort();
		/* a loaded config names every error it can still produce: compile it */
		struct hook_rt *rt = NULL;
		struct cfg_error cerr;
		memset(&cerr, 0, sizeof(cerr));
		if (hook_compile(cfg, &rt, &cerr, NULL, NULL) == 0) {
			hook_rt_release(rt); /* frees cfg */
			cfg = NULL;
		} else if (cerr.msg[0] == '\0') {
			abort();
		}
		cfg_free(cfg);
	}
	free(text);
	return 0;
}
