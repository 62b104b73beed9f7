/* policy/hours.c: opening hours: parse weekly intervals and closed dates, answer "open at this instant" via ICU. */
#include "policy/policy.h"

#include "common/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucal.h>

#define ZONE_MAX 64 /* the longest IANA name is 32 bytes */

struct interval {
	unsigned days;      /* bit 0 = Monday ... bit 6 = Sunday */
	int start, end;     /* minutes of the day; end 1..1440 */
	bool over_midnight; /* end <= start: it runs into the next day */
};

struct pol_hours {
	UChar zone[ZONE_MAX + 1];
	struct interval *iv;
	size_t n_iv;
	int32_t *closed; /* yyyymmdd */
	size_t n_closed;
};

static const char *const day_names[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

__attribute__((format(printf, 4, 5))) static int fail(struct pol_hours_error *err, enum pol_hours_part part,
						      size_t index, const char *fmt, ...)
{
	if (err) {
		err->part = part;
		err->index = index;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

/* ICU wants UTF-16; a zone name is ASCII. */
static bool zone_utf16(const char *tz, UChar *out)
{
	size_t n = strlen(tz);
	if (n == 0 || n > ZONE_MAX)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if ((unsigned char)tz[i] > 0x7e)
			return false;
		out[i] = (UChar)tz[i];
	}
	return true;
}

/* A system zone of ICU's tz database: a custom "GMT+1" is not one, an
 * unknown name is an error (ucal_open would fall back to GMT silently). */
static bool zone_ok(const UChar *zone)
{
	UChar canon[ZONE_MAX * 2];
	UBool system = 0;
	UErrorCode st = U_ZERO_ERROR;
	ucal_getCanonicalTimeZoneID(zone, -1, canon, (int32_t)(sizeof(canon) / sizeof(canon[0])), &system, &st);
	return U_SUCCESS(st) && system;
}

static int day_of(const char *s, size_t n)
{
	for (int d = 0; d < 7; d++) {
		if (n == 3 && memcmp(s, day_names[d], 3) == 0)
			return d;
	}
	return -1;
}

/* "Mon", "Mon-Fri", "Mon,Wed-Fri" into a day mask; 0 when malformed. */
static unsigned parse_days(const char *s, size_t n)
{
	unsigned mask = 0;
	size_t i = 0;
	while (i < n) {
		size_t j = i;
		while (j < n && s[j] != ',')
			j++;
		int a = -1, b = -1;
		if (j - i == 3) {
			a = b = day_of(s + i, 3);
		} else if (j - i == 7 && s[i + 3] == '-') {
			a = day_of(s + i, 3);
			b = day_of(s + i + 4, 3);
		}
		if (a < 0 || b < 0)
			return 0;
		for (int d = a;; d = (d + 1) % 7) {
			mask |= 1u << d;
			if (d == b)
				break;
		}
		if (j == n)
			break;
		i = j + 1;
		if (i == n)
			return 0; /* a trailing comma */
	}
	return mask;
}

/* "HH:MM" exactly; 24:00 only when end is allowed. Minutes, or -1. */
static int parse_time(const char *s, bool end)
{
	int64_t h, m;
	if (strlen(s) != 5 || s[2] != ':' || ch_parse_i64(s, 2, 0, 24, &h) || ch_parse_i64(s + 3, 2, 0, 59, &m))
		return -1;
	if (h == 24 && (m != 0 || !end))
		return -1;
	return (int)(h * 60 + m);
}

static int parse_open(const char *spec, size_t idx, struct interval *out, struct pol_hours_error *err)
{
	const char *sp = strchr(spec, ' ');
	const char *usage = "is not \"<days> HH:MM-HH:MM\" (days Mon..Sun, \"Mon-Fri\" or \"Mon,Wed\")";
	if (!sp || strchr(sp + 1, ' '))
		return fail(err, POL_HOURS_OPEN, idx, "\"%s\" %s", spec, usage);
	unsigned days = parse_days(spec, (size_t)(sp - spec));
	if (!days)
		return fail(err, POL_HOURS_OPEN, idx,
			    "\"%s\": \"%.*s\" are not days (Mon, Tue, Wed, Thu, Fri, Sat, Sun)", spec, (int)(sp - spec),
			    spec);
	char a[8] = "", b[8] = "";
	const char *t = sp + 1;
	const char *dash = strchr(t, '-');
	if (!dash || (size_t)(dash - t) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
		return fail(err, POL_HOURS_OPEN, idx, "\"%s\" %s", spec, usage);
	memcpy(a, t, (size_t)(dash - t));
	memcpy(b, dash + 1, strlen(dash + 1));
	int start = parse_time(a, false), end = parse_time(b, true);
	if (start < 0 || end < 0)
		return fail(err, POL_HOURS_OPEN, idx,
			    "\"%s\": times are HH:MM from 00:00 to 23:59 (an end may be 24:00)", spec);
	if (start == end)
		return fail(err, POL_HOURS_OPEN, idx, "\"%s\": the interval is empty", spec);
	*out = (struct interval){.days = days, .start = start, .end = end, .over_midnight = end < start};
	return 0;
}

static bool leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_closed(const char *spec, int32_t *out)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t y, m, d;
	if (strlen(spec) != 10 || spec[4] != '-' || spec[7] != '-' || ch_parse_i64(spec, 4, 1970, 9999, &y) ||
	    ch_parse_i64(spec + 5, 2, 1, 12, &m) || ch_parse_i64(spec + 8, 2, 1, 31, &d))
		return EINVAL;
	if (d > mdays[m - 1] + (m == 2 && leap(y)))
		return EINVAL;
	*out = (int32_t)(y * 10000 + m * 100 + d);
	return 0;
}

int pol_hours_compile(const char *tz, const char *const *open, size_t n_open, const char *const *closed,
		      size_t n_closed, struct pol_hours **out, struct pol_hours_error *err)
{
	struct pol_hours *h = calloc(1, sizeof(*h));
	if (!h)
		return ENOMEM;
	int rc = ENOMEM;
	if (!tz || !zone_utf16(tz, h->zone) || !zone_ok(h->zone)) {
		rc = fail(err, POL_HOURS_TZ, 0, "\"%s\" is not a time zone of the tz database (like \"Europe/Berlin\")",
			  tz ? tz : "");
		goto out;
	}
	h->iv = calloc(n_open ? n_open : 1, sizeof(*h->iv));
	h->closed = calloc(n_closed ? n_closed : 1, sizeof(*h->closed));
	if (!h->iv || !h->closed)
		goto out;
	for (; h->n_iv < n_open; h->n_iv++) {
		rc = parse_open(open[h->n_iv], h->n_iv, &h->iv[h->n_iv], err);
		if (rc)
			goto out;
	}
	for (; h->n_closed < n_closed; h->n_closed++) {
		if (parse_closed(closed[h->n_closed], &h->closed[h->n_closed]) != 0) {
			rc = fail(err, POL_HOURS_CLOSED, h->n_closed, "\"%s\" is not a date (YYYY-MM-DD)",
				  closed[h->n_closed]);
			goto out;
		}
	}
	*out = h;
	return 0;
out:
	pol_hours_free(h);
	return rc;
}

void pol_hours_free(struct pol_hours *h)
{
	if (!h)
		return;
	free(h->iv);
	free(h->closed);
	free(h);
}

/* The local weekday (0 = Monday), date (yyyymmdd) and minute of the day. */
static bool local_time(const struct pol_hours *h, int64_t unix_ms, int *dow, int32_t *date, int *minute)
{
	UErrorCode st = U_ZERO_ERROR;
	/* one calendar per question: a UCalendar is not safe to share between threads */
	UCalendar *cal = ucal_open(h->zone, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st))
		return false;
	ucal_setMillis(cal, (UDate)unix_ms, &st);
	int32_t wd = ucal_get(cal, UCAL_DAY_OF_WEEK, &st); /* 1 = Sunday */
	int32_t y = ucal_get(cal, UCAL_EXTENDED_YEAR, &st);
	int32_t mo = ucal_get(cal, UCAL_MONTH, &st); /* 0-based */
	int32_t d = ucal_get(cal, UCAL_DATE, &st);
	int32_t hh = ucal_get(cal, UCAL_HOUR_OF_DAY, &st);
	int32_t mm = ucal_get(cal, UCAL_MINUTE, &st);
	ucal_close(cal);
	if (U_FAILURE(st))
		return false;
	*dow = (wd + 5) % 7;
	*date = y * 10000 + (mo + 1) * 100 + d;
	*minute = hh * 60 + mm;
	return true;
}

bool pol_hours_open_at(const struct pol_hours *h, int64_t unix_ms)
{
	int dow, minute;
	int32_t date;
	if (!h || !local_time(h, unix_ms, &dow, &date, &minute))
		return false;
	for (size_t i = 0; i < h->n_closed; i++) {
		if (h->closed[i] == date)
			return false;
	}
	int yesterday = (dow + 6) % 7;
	for (size_t i = 0; i < h->n_iv; i++) {
		const struct interval *v = &h->iv[i];
		bool today = (v->days >> dow) & 1u;
		if (!v->over_midnight && today && minute >= v->start && minute < v->end)
			return true;
		if (v->over_midnight &&
		    ((today && minute >= v->start) || (((v->days >> yesterday) & 1u) && minute < v->end)))
			return true;
	}
	return false;
}
