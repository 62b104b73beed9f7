/* tests/sip/bench_engine.c: places REFER calls at a fixed rate through the SIP engine against one SIPp phone; reports
 * failures, rate and RSS (not a ctest). Usage: sip_bench_engine [calls_per_s [seconds [linger_s]]] */
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "tests/support/net.h"
#include "originator/orig_sip.h"

#ifndef SIPP_BIN
#define SIPP_BIN "sipp"
#endif
#ifndef BENCH_DIR
#define BENCH_DIR "."
#endif

static atomic_long finals, transferred, failed;
static atomic_int fail_codes[700];

static void on_event(const struct orig_event *ev, void *arg)
{
	(void)arg;
	if (!ev->final)
		return;
	atomic_fetch_add(&finals, 1);
	if (ev->state == ORIG_TRANSFERRED) {
		atomic_fetch_add(&transferred, 1);
	} else {
		atomic_fetch_add(&failed, 1);
		if (ev->code > 0 && ev->code < 700)
			atomic_fetch_add(&fail_codes[ev->code], 1);
	}
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

/* Start the SIPp phone answering `total` REFER calls on port (TCP when tcp). Its pid, or -1. */
static pid_t start_phone(int port, long total, bool tcp)
{
	char sport[16], sm[32], sf[512];
	(void)ch_fmt(sport, sizeof sport, "%d", port);
	(void)ch_fmt(sm, sizeof sm, "%ld", total);
	(void)ch_fmt(sf, sizeof sf, "%s/sipp_uas_refer.xml", BENCH_DIR);
	pid_t pid = fork();
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execlp(SIPP_BIN, SIPP_BIN, "-sf", sf, "-i", "127.0.0.1", "-p", sport, "-m", sm, "-nostdin",
		       "-recv_timeout", "20000", "-max_recv_loops", "100000", "-buff_size", "8388608", "-t",
		       tcp ? "t1" : "u1", (char *)NULL);
		_exit(127);
	}
	usleep(500000);
	return pid;
}

struct run {
	long placed, refused, peak_rss;
	unsigned peak_active;
	int64_t t_placed, total_ms;
};

/* Place total calls at rate per second, then wait for their final events (up to secs + 40 s in all). */
static void place_at_rate(struct orig_sip *eng, const struct orig_call_req *r, int64_t rate, int64_t secs, long total,
			  struct run *out)
{
	struct run u;
	memset(&u, 0, sizeof u);
	int64_t t0 = ch_now_ms();
	while (u.placed < total) {
		int64_t due = (ch_now_ms() - t0) * rate / 1000;
		while (u.placed < due && u.placed < total) {
			uint64_t id;
			if (orig_sip_call(eng, r, &id) != 0)
				u.refused++;
			u.placed++;
		}
		unsigned act = orig_sip_active(eng);
		if (act > u.peak_active)
			u.peak_active = act;
		long kb = rss_kb();
		if (kb > u.peak_rss)
			u.peak_rss = kb;
		usleep(2000);
	}
	u.t_placed = ch_now_ms() - t0;
	while (atomic_load(&finals) + u.refused < total && ch_now_ms() - t0 < (secs + 40) * 1000)
		usleep(20000);
	u.total_ms = ch_now_ms() - t0;
	*out = u;
}

static void report(int64_t rate, int64_t secs, const struct run *u)
{
	printf("rate %lld/s for %lld s: placed %ld in %lld ms, finals %ld, transferred %ld, failed %ld, "
	       "refused %ld, total %lld ms, peak active %u, peak RSS %ld kB\n",
	       (long long)rate, (long long)secs, u->placed, (long long)u->t_placed, atomic_load(&finals),
	       atomic_load(&transferred), atomic_load(&failed), u->refused, (long long)u->total_ms, u->peak_active,
	       u->peak_rss);
	for (int c = 0; c < 700; c++)
		if (atomic_load(&fail_codes[c]))
			printf("  failed with %d: %d\n", c, atomic_load(&fail_codes[c]));
}

/* How much the stack still holds some seconds later (Sofia keeps completed
 * transactions for their timers). */
static void linger(int64_t secs)
{
	for (int64_t i = 0; i < secs; i += 5) {
		sleep(5);
		malloc_trim(0);
		printf("  +%llds: RSS %ld kB\n", (long long)i + 5, rss_kb());
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	int64_t rate = 200, secs = 10;
	if (argc > 1 && ch_parse_i64(argv[1], strlen(argv[1]), 1, 100000, &rate))
		return 2;
	if (argc > 2 && ch_parse_i64(argv[2], strlen(argv[2]), 1, 3600, &secs))
		return 2;
	ch_log_set_level(CH_LOG_WARN);
	long total = (long)(rate * secs);
	/* BENCH_TRANSPORT=tcp: the phone listens on TCP (one connection). */
	const char *tp = getenv("BENCH_TRANSPORT");
	bool tcp = tp && strcmp(tp, "tcp") == 0;
	int port = tn_free_port(false, NULL, NULL);
	pid_t pid = start_phone(port, total, tcp);

	struct orig_sip_opts o;
	memset(&o, 0, sizeof o);
	o.listen = "sip:127.0.0.1:0";
	o.identity = "sip:c2c@127.0.0.1";
	struct orig_sip *eng = NULL;
	int err = orig_sip_start(&o, on_event, NULL, &eng);
	if (err) {
		fprintf(stderr, "start: %s\n", strerror(err));
		return 1;
	}
	struct orig_call_req r;
	memset(&r, 0, sizeof r);
	(void)ch_fmt(r.initiator, sizeof r.initiator, "sip:alice@127.0.0.1:%d%s", port, tcp ? ";transport=tcp" : "");
	(void)ch_fmt(r.destination, sizeof r.destination, "sip:9055551234@127.0.0.1");
	struct run u;
	place_at_rate(eng, &r, rate, secs, total, &u);
	report(rate, secs, &u);
	int64_t lsecs = 0;
	if (argc > 3 && ch_parse_i64(argv[3], strlen(argv[3]), 0, 600, &lsecs) == 0)
		linger(lsecs);
	orig_sip_stop(eng, 2000);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return atomic_load(&failed) || u.refused ? 1 : 0;
}
