/* common/net.c: listening TCP sockets from configured "host:port" addresses. */
#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The bound address as "a.b.c.d:port" or "[v6]:port". */
static void bound_text(int fd, char *text, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			port = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			port = ntohs(s6->sin6_port);
		}
	}
	int r = ss.ss_family == AF_INET6 ? ch_fmt(text, cap, "[%s]:%d", a, port) : ch_fmt(text, cap, "%s:%d", a, port);
	(void)r;
}

int ch_listen_tcp(const char *hostport, bool nonblock, int *fdp, char *text, size_t textcap)
{
	/* the same parser the config loader validated this address with */
	struct sockaddr_storage addr;
	unsigned alen;
	if (!hostport || ch_parse_listen(hostport, &addr, &alen) != 0)
		return EINVAL;
	int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return errno;
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (addr.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, (socklen_t)alen) != 0 || listen(fd, 128) != 0) {
		int e = errno;
		close(fd);
		return e;
	}
	if (text && textcap)
		bound_text(fd, text, textcap);
	*fdp = fd;
	return 0;
}
