/* tests/unit/test_hours.c: opening hours: day ranges, midnight, closed dates, both DST changes, bad specs. */
#include "policy/policy.h"
#include "tests/check.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* "2026-03-29T00:30" read as UTC, in milliseconds. */
static int64_t utc(const char *s)
{
	struct tm tm = {0};
	const char *end = strptime(s, "%Y-%m-%dT%H:%M", &tm);
	if (!end || *end)
		return -1;
	return (int64_t)timegm(&tm) * 1000;
}

static struct pol_hours *hours(const char *tz, const char *const *open, size_t n_open, const char *const *closed,
			       size_t n_closed)
{
	struct pol_hours *h = NULL;
	struct pol_hours_error err;
	int rc = pol_hours_compile(tz, open, n_open, closed, n_closed, &h, &err);
	CHECK_MSG(rc == 0, "%s", rc ? err.msg : "");
	return h;
}

struct at {
	const char *utc;
	bool open;
};

static void expect(const struct pol_hours *h, const struct at *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(pol_hours_open_at(h, utc(cases[i].utc)) == cases[i].open, "%s: expected %s", cases[i].utc,
			  cases[i].open ? "open" : "closed");
}

/* Europe/Berlin is UTC+1 (CET) before 2026-03-29 01:00Z and UTC+2 (CEST) after, until 2026-10-25 01:00Z. */
TEST_CASE(berlin_dst_spring)
{
	const char *open[] = {"Mon-Fri 09:00-17:30", "Sat 10:00-14:00", "Sun 01:00-03:30"};
	struct pol_hours *h = hours("Europe/Berlin", open, 3, NULL, 0);
	REQUIRE(h);
	const struct at cases[] = {
	    {"2026-03-27T07:59", false}, /* Fri 08:59 CET */
	    {"2026-03-27T08:00", true},  /* Fri 09:00 CET */
	    {"2026-03-27T16:29", true},  /* Fri 17:29 CET */
	    {"2026-03-27T16:30", false}, /* Fri 17:30 CET: the end is outside */
	    {"2026-03-28T09:00", true},  /* Sat 10:00 CET */
	    {"2026-03-28T13:00", false}, /* Sat 14:00 CET */
	    {"2026-03-29T00:30", true},  /* Sun 01:30 CET */
	    {"2026-03-29T01:15", true},  /* Sun 03:15 CEST: 02:00-03:00 does not exist that day */
	    {"2026-03-29T01:30", false}, /* Sun 03:30 CEST */
	    {"2026-03-30T06:59", false}, /* Mon 08:59 CEST (a fixed +1 would say 07:59) */
	    {"2026-03-30T07:00", true},  /* Mon 09:00 CEST (a fixed +1 would say 08:00, closed) */
	    {"2026-03-30T15:29", true},  /* Mon 17:29 CEST */
	    {"2026-03-30T15:30", false}, /* Mon 17:30 CEST (a fixed +1 would say 16:30, open) */
	};
	expect(h, cases, sizeof(cases) / sizeof(cases[0]));
	pol_hours_free(h);
}

TEST_CASE(berlin_dst_autumn)
{
	const char *open[] = {"Mon-Fri 09:00-17:30", "Sun 02:00-02:30"};
	struct pol_hours *h = hours("Europe/Berlin", open, 2, NULL, 0);
	REQUIRE(h);
	const struct at cases[] = {
	    {"2026-10-23T06:59", false}, /* Fri 08:59 CEST */
	    {"2026-10-23T07:00", true},  /* Fri 09:00 CEST */
	    {"2026-10-23T15:30", false}, /* Fri 17:30 CEST */
	    {"2026-10-25T00:15", true},  /* Sun 02:15 CEST, the first time */
	    {"2026-10-25T00:45", false}, /* Sun 02:45 CEST */
	    {"2026-10-25T01:15", true},  /* Sun 02:15 CET, the second time */
	    {"2026-10-25T01:45", false}, /* Sun 02:45 CET */
	    {"2026-10-26T07:30", false}, /* Mon 08:30 CET (a fixed +2 would say 09:30) */
	    {"2026-10-26T08:00", true},  /* Mon 09:00 CET */
	    {"2026-10-26T16:15", true},  /* Mon 17:15 CET (a fixed +2 would say 18:15, closed) */
	};
	expect(h, cases, sizeof(cases) / sizeof(cases[0]));
	pol_hours_free(h);
}

/* 2026-05-01 is a Friday. */
TEST_CASE(over_midnight)
{
	const char *open[] = {"Fri 22:00-02:00"};
	struct pol_hours *h = hours("UTC", open, 1, NULL, 0);
	REQUIRE(h);
	const struct at cases[] = {
	    {"2026-05-01T21:59", false}, {"2026-05-01T22:00", true}, {"2026-05-01T23:59", true},
	    {"2026-05-02T00:00", true},  {"2026-05-02T01:59", true}, {"2026-05-02T02:00", false},
	    {"2026-04-30T23:00", false}, /* Thursday night */
	    {"2026-05-03T01:00", false}, /* Saturday night */
	};
	expect(h, cases, sizeof(cases) / sizeof(cases[0]));
	pol_hours_free(h);
}

TEST_CASE(day_lists_and_whole_days)
{
	const char *open[] = {"Mon,Wed-Thu 08:00-12:00", "Sat-Sun 00:00-24:00"};
	struct pol_hours *h = hours("UTC", open, 2, NULL, 0);
	REQUIRE(h);
	const struct at cases[] = {
	    {"2026-05-04T09:00", true},  /* Mon */
	    {"2026-05-05T09:00", false}, /* Tue */
	    {"2026-05-06T09:00", true},  /* Wed */
	    {"2026-05-07T11:59", true},  /* Thu */
	    {"2026-05-08T09:00", false}, /* Fri */
	    {"2026-05-09T00:00", true},  /* Sat */
	    {"2026-05-10T23:59", true},  /* Sun */
	};
	expect(h, cases, sizeof(cases) / sizeof(cases[0]));
	pol_hours_free(h);
	const char *always[] = {"Mon-Sun 00:00-24:00"};
	h = hours("Europe/Berlin", always, 1, NULL, 0);
	REQUIRE(h);
	for (int64_t t = utc("2026-03-28T00:00"); t < utc("2026-04-01T00:00"); t += 7 * 60 * 1000)
		CHECK(pol_hours_open_at(h, t));
	pol_hours_free(h);
	const char *wrap[] = {"Fri-Mon 10:00-11:00"};
	h = hours("UTC", wrap, 1, NULL, 0);
	REQUIRE(h);
	const struct at w[] = {{"2026-05-08T10:30", true},
			       {"2026-05-10T10:30", true},
			       {"2026-05-11T10:30", true},
			       {"2026-05-12T10:30", false}};
	expect(h, w, sizeof(w) / sizeof(w[0]));
	pol_hours_free(h);
	h = hours("UTC", NULL, 0, NULL, 0);
	REQUIRE(h);
	CHECK(!pol_hours_open_at(h, utc("2026-05-08T10:30")));
	pol_hours_free(h);
}

/* A closed date is the whole local day, also the part of an interval that crossed midnight into it. */
TEST_CASE(closed_dates)
{
	const char *open[] = {"Mon-Sun 00:00-24:00", "Thu 22:00-02:00"};
	const char *closed[] = {"2026-12-24", "2026-12-25"};
	struct pol_hours *h = hours("Europe/Berlin", open, 2, closed, 2);
	REQUIRE(h);
	const struct at cases[] = {
	    {"2026-12-23T22:59", true},  /* Wed 23:59 CET */
	    {"2026-12-23T23:00", false}, /* Thu 24th 00:00 CET */
	    {"2026-12-25T22:59", false}, /* Fri 25th 23:59 CET */
	    {"2026-12-25T23:00", true},  /* Sat 26th 00:00 CET */
	};
	expect(h, cases, sizeof(cases) / sizeof(cases[0]));
	pol_hours_free(h);
	const char *leap[] = {"2028-02-29"};
	h = hours("UTC", open, 1, leap, 1);
	REQUIRE(h);
	CHECK(!pol_hours_open_at(h, utc("2028-02-29T12:00")));
	CHECK(pol_hours_open_at(h, utc("2028-03-01T00:00")));
	pol_hours_free(h);
}

struct bad {
	const char *tz, *open, *closed;
	enum pol_hours_part part;
	const char *msg;
};

/* check_src: table */
static const struct bad bads[] = {
    {"Europe/Berlin", "Mon-Fri 9-5", NULL, POL_HOURS_OPEN,
     "\"Mon-Fri 9-5\": times are HH:MM from 00:00 to 23:59 (an end may be 24:00)"},
    {"Europe/Berlin", "Xyz 09:00-10:00", NULL, POL_HOURS_OPEN,
     "\"Xyz 09:00-10:00\": \"Xyz\" are not days (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"},
    {"Europe/Berlin", "Mon 25:00-26:00", NULL, POL_HOURS_OPEN,
     "\"Mon 25:00-26:00\": times are HH:MM from 00:00 to 23:59 (an end may be 24:00)"},
    {"Europe/Berlin", "Mon 24:00-10:00", NULL, POL_HOURS_OPEN,
     "\"Mon 24:00-10:00\": times are HH:MM from 00:00 to 23:59 (an end may be 24:00)"},
    {"Europe/Berlin", "Mon 10:00-10:00", NULL, POL_HOURS_OPEN, "\"Mon 10:00-10:00\": the interval is empty"},
    {"Europe/Berlin", "25:00", NULL, POL_HOURS_OPEN,
     "\"25:00\" is not \"<days> HH:MM-HH:MM\" (days Mon..Sun, \"Mon-Fri\" or \"Mon,Wed\")"},
    {"Europe/Berlin", "Mon,  10:00-11:00", NULL, POL_HOURS_OPEN,
     "\"Mon,  10:00-11:00\" is not \"<days> HH:MM-HH:MM\" (days Mon..Sun, \"Mon-Fri\" or \"Mon,Wed\")"},
    {"Europe/Berlin", "mon 10:00-11:00", NULL, POL_HOURS_OPEN,
     "\"mon 10:00-11:00\": \"mon\" are not days (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"},
    {"Europe/Berlin", NULL, "2026-02-30", POL_HOURS_CLOSED, "\"2026-02-30\" is not a date (YYYY-MM-DD)"},
    {"Europe/Berlin", NULL, "2027-02-29", POL_HOURS_CLOSED, "\"2027-02-29\" is not a date (YYYY-MM-DD)"},
    {"Europe/Berlin", NULL, "2026-1-5", POL_HOURS_CLOSED, "\"2026-1-5\" is not a date (YYYY-MM-DD)"},
    {"Europe/Berlinn", NULL, NULL, POL_HOURS_TZ,
     "\"Europe/Berlinn\" is not a time zone of the tz database (like \"Europe/Berlin\")"},
    {"GMT+01:00", NULL, NULL, POL_HOURS_TZ,
     "\"GMT+01:00\" is not a time zone of the tz database (like \"Europe/Berlin\")"},
    {"", NULL, NULL, POL_HOURS_TZ, "\"\" is not a time zone of the tz database (like \"Europe/Berlin\")"},
};

TEST_CASE(bad_specs)
{
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		const char *open[] = {"Mon 09:00-10:00", b->open};
		const char *closed[] = {"2026-01-01", b->closed};
		struct pol_hours *h = NULL;
		struct pol_hours_error err = {.index = 99};
		int rc = pol_hours_compile(b->tz, open, b->open ? 2 : 1, closed, b->closed ? 2 : 1, &h, &err);
		CHECK(rc == EINVAL);
		CHECK(h == NULL);
		if (rc != EINVAL)
			continue;
		CHECK(err.part == b->part);
		CHECK(err.index == (b->part == POL_HOURS_TZ ? 0u : 1u));
		CHECK_STR(err.msg, b->msg);
	}
	/* accepted zones: names of the tz database, aliases included */
	const char *zones[] = {"UTC", "Etc/UTC", "America/New_York", "Asia/Kolkata", "Europe/Kiev"};
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		struct pol_hours *h = NULL;
		struct pol_hours_error err;
		CHECK_MSG(pol_hours_compile(zones[i], NULL, 0, NULL, 0, &h, &err) == 0, "%s", zones[i]);
		pol_hours_free(h);
	}
}
