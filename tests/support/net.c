/* tests/support/net.c: loopback ports for the tests' peers (tests/support/net.h). */
#include "tests/support/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <unistd.h>

bool tn_bindable(int type, int port)
{
	int fd = socket(AF_INET, type, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A UDP port the kernel picks, released at once; -1 if none. */
static int kernel_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int port = -1;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int tn_free_port(bool pair, bool (*taken)(int port, void *arg), void *arg)
{
	for (int tries = 0; tries < 100; tries++) {
		int port = kernel_port();
		if (port < 0 || port >= 65535 || (taken && taken(port, arg)) || !tn_bindable(SOCK_STREAM, port))
			continue;
		if (pair && ((taken && taken(port + 1, arg)) || !tn_bindable(SOCK_DGRAM, port + 1) ||
			     !tn_bindable(SOCK_STREAM, port + 1)))
			continue;
		return port;
	}
	return -1;
}

int tn_tcp_connect(int port, int timeout_s)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (timeout_s > 0) {
		struct timeval tv = {timeout_s, 0};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

int tn_exchange(int port, const char *req, char *buf, size_t cap)
{
	buf[0] = '\0';
	int s = tn_tcp_connect(port, 3);
	if (s < 0)
		return -1;
	size_t len = strlen(req);
	if (send(s, req, len, MSG_NOSIGNAL) != (ssize_t)len) {
		close(s);
		return -1;
	}
	size_t n = 0;
	int closed = 0;
	while (n + 1 < cap) {
		ssize_t k = recv(s, buf + n, cap - 1 - n, 0);
		if (k == 0) {
			closed = 1;
			break;
		}
		if (k < 0)
			break; /* timeout (or reset) */
		n += (size_t)k;
	}
	buf[n] = '\0';
	close(s);
	return closed;
}
