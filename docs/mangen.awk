# docs/mangen.awk: renders docs/callhook.8.txt as the man page (mode=man) or as the C header with --help (mode=help).
#
#   awk -v mode=man -v version=0.1.0 -v date=2026-01-01 -f mangen.awk callhook.8.txt > callhook.8
#   awk -v mode=help -f mangen.awk callhook.8.txt > callhook_usage.h
#
# callhook.conf(5) is rendered from docs/callhook.conf.5.txt with the config
# table's facts (callhook_schema's output, path TAB type TAB default TAB range
# TAB flags) added under each item whose term is **path** of a setting:
#
#   awk -v mode=man -v page=callhook.conf -v mansect=5 -v schema=schema.tsv -f mangen.awk callhook.conf.5.txt
#   awk -v mode=check -v schema=schema.tsv -f mangen.awk callhook.conf.5.txt   # every setting documented?
#
# POSIX awk only (mawk, gawk, busybox): the build needs nothing else.

function fail(msg) {
	printf("%s:%d: %s\n", FILENAME, FNR, msg) > "/dev/stderr"
	failed = 1
	exit 1
}

# Does a closing marker at position j of s end a span (followed by the end,
# a space or punctuation)?
function closes(s, j, mlen,    c) {
	c = substr(s, j + mlen, 1)
	return c == "" || index(" \t.,;:()!?|]'/", c) > 0
}

# Inline markup: **bold** and _italic_; fmt is "man" or "plain". A marker
# opens only at the start or after a space or bracket, so snake_case words
# and "***" stay as they are; text is escaped for troff in man mode.
function inline(s, fmt,    out, i, c, prev, j, inner, m, mlen, found) {
	out = ""
	prev = " "
	i = 1
	while (i <= length(s)) {
		c = substr(s, i, 1)
		m = ""
		if (substr(s, i, 2) == "**" && substr(s, i + 2, 1) != "*" && substr(s, i + 2, 1) != "")
			m = "**"
		else if (c == "_" && substr(s, i + 1, 1) != "" && substr(s, i + 1, 1) != " ")
			m = "_"
		if (m != "" && index(" \t([|", prev) > 0) {
			mlen = length(m)
			found = 0
			for (j = i + mlen + 1; j <= length(s); j++) {
				if (substr(s, j, mlen) == m && substr(s, j - 1, 1) != " " && closes(s, j, mlen)) {
					found = 1
					break
				}
			}
			if (found) {
				inner = substr(s, i + mlen, j - i - mlen)
				if (fmt == "man")
					out = out (m == "**" ? "\\fB" : "\\fI") esc(inner) "\\fR"
				else
					out = out inner
				i = j + mlen
				prev = m
				continue
			}
		}
		out = out (fmt == "man" ? esc(c) : c)
		prev = c
		i++
	}
	return out
}

# troff: a backslash is \e; every '-' is a minus (options copy-paste right).
function esc(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\")
			out = out "\\e"
		else if (c == "-")
			out = out "\\-"
		else
			out = out c
	}
	return out
}

# A troff text line must not start with '.' or '\''.
function manline(s) {
	if (substr(s, 1, 1) == "." || substr(s, 1, 1) == "'")
		s = "\\&" s
	print s
}

# C string literal body.
function cstr(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\" || c == "\"")
			out = out "\\" c
		else
			out = out c
	}
	return out
}

function helpline(s) {
	if (length(s) > 80)
		fail("a --help line is longer than 80 columns: " s)
	printf("\t\"%s\\n\"\n", cstr(s))
}

# An item's term still waiting for its first text line is printed alone.
function flush() {
	if (pending != "")
		helpline(pending)
	pending = ""
}

function titlecase(s) {
	return substr(s, 1, 1) tolower(substr(s, 2))
}

# The table's facts about one setting, as one line of text.
function facts(path,    f, out) {
	split(schema_row[path], f, "\t")
	out = f[1]
	if (f[3] != "-")
		out = out ", " f[3]
	if (f[2] != "-")
		out = out ", default " f[2]
	if (f[4] ~ /required/)
		out = out ", required"
	if (f[4] ~ /nonempty/)
		out = out ", not empty"
	if (f[4] ~ /secret/)
		out = out ", secret"
	if (f[4] ~ /restart/)
		out = out ", restart-only"
	return out
}

function load_schema(file,    line, f, n) {
	n = 0
	while ((getline line < file) > 0) {
		split(line, f, "\t")
		schema_row[f[1]] = f[2] "\t" f[3] "\t" f[4] "\t" f[5]
		schema_order[++n] = f[1]
	}
	close(file)
	if (n == 0) {
		print "mangen.awk: no settings in " file > "/dev/stderr"
		failed = 1
		exit 1
	}
	nschema = n
}

BEGIN {
	if (mode != "man" && mode != "help" && mode != "check") {
		print "mangen.awk: set -v mode=man, -v mode=help or -v mode=check" > "/dev/stderr"
		failed = 1
		exit 1
	}
	if (page == "")
		page = "callhook"
	if (mansect == "")
		mansect = 8
	if (schema != "")
		load_schema(schema)
	if (mode == "man") {
		printf(".\\\" %s(%s): generated from docs/%s.%s.txt by docs/mangen.awk; do not edit.\n", page, mansect,
		       page, mansect)
		printf(".TH %s %s \"%s\" \"callhook %s\" \"%s\"\n", toupper(page), mansect, date, version,
		       mansect == 5 ? "File Formats" : "System Administration")
	} else if (mode == "help") {
		print "/* callhook_usage.h: the --help text, generated from docs/callhook.8.txt by docs/mangen.awk; do not edit. */"
		print "#ifndef CALLHOOK_USAGE_H"
		print "#define CALLHOOK_USAGE_H"
		print ""
		print "static const char callhook_usage[] ="
	}
	section = ""
	inhelp = 0
	nsyn = 0
	nhelp = 0
}

/^%%/ { next }

/^# / {
	flush()
	title = substr($0, 3)
	inhelp = 0
	if (title ~ / \[help\]$/) {
		inhelp = 1
		title = substr(title, 1, length(title) - 7)
	}
	if (title !~ /^[A-Z][A-Z ]*$/)
		fail("a section title is upper case: " title)
	section = title
	initem = 0
	pp = 0
	if (mode == "man") {
		print ".SH " title
	} else if (inhelp && section != "SYNOPSIS") {
		helpline("")
		helpline(titlecase(title) ":")
		nhelp++
	}
	next
}

section == "" {
	if ($0 != "")
		fail("text before the first section")
	next
}

/^$/ {
	pp = 1
	next
}

section == "SYNOPSIS" {
	cmd = $0
	desc = ""
	k = index(cmd, " :: ")
	if (k > 0) {
		desc = substr(cmd, k + 4)
		cmd = substr(cmd, 1, k - 1)
	}
	if (mode == "man") {
		if (nsyn > 0)
			print ".br"
		manline(inline(cmd, "man"))
	} else if (mode == "help") {
		line = (nsyn == 0 ? "Usage: " : "       ") inline(cmd, "plain")
		if (desc != "")
			line = sprintf("%-35s%s", line, desc)
		helpline(line)
		nhelp++
	}
	nsyn++
	next
}

/^\* / {
	flush()
	term = substr($0, 3)
	initem = 1
	itemlines = 0
	pp = 0
	path = ""
	if (schema != "" && section != "METRICS" && term ~ /^\*\*[a-z0-9_.<>\[\]]+\*\*$/)
		path = substr(term, 3, length(term) - 4)
	if (path != "" && !(path in schema_row)) {
		if (mode == "check")
			printf("%s:%d: %s is not a setting of the config table\n", FILENAME, FNR, path) > "/dev/stderr"
		unknown++
		path = ""
	}
	if (path != "")
		documented[path] = 1
	if (mode == "man") {
		print ".TP"
		manline(inline(term, "man"))
		if (path != "") {
			manline("\\fI" esc(facts(path)) "\\fR")
			print ".br"
		}
	} else if (inhelp) {
		pending = "  " inline(term, "plain")
		if (length(pending) > 20) {
			helpline(pending)
			pending = ""
		}
		nhelp++
	}
	next
}

/^  / {
	if (!initem)
		fail("an indented line outside an item")
	text = substr($0, 3)
	if (mode == "man") {
		manline(inline(text, "man"))
	} else if (inhelp) {
		if (pending != "") {
			helpline(sprintf("%-22s%s", pending, inline(text, "plain")))
			pending = ""
		} else {
			helpline(sprintf("%22s%s", "", inline(text, "plain")))
		}
	}
	itemlines++
	next
}

{
	flush()
	if (mode == "man") {
		if (initem || pp)
			print ".PP"
		manline(inline($0, "man"))
	} else if (inhelp) {
		helpline(inline($0, "plain"))
		nhelp++
	}
	initem = 0
	pp = 0
}

END {
	if (failed)
		exit 1
	if (mode == "check") {
		missing = 0
		for (i = 1; i <= nschema; i++) {
			if (!(schema_order[i] in documented)) {
				printf("%s: the setting %s has no documentation\n", FILENAME, schema_order[i]) > "/dev/stderr"
				missing++
			}
		}
		if (missing || unknown)
			exit 1
		printf("%s: all %d settings of the config table are documented\n", FILENAME, nschema)
		exit 0
	}
	flush()
	if (nsyn == 0) {
		print "mangen.awk: no SYNOPSIS section" > "/dev/stderr"
		exit 1
	}
	if (mode == "help")
		print "\t\"\";\n\n#endif"
}
