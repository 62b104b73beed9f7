/* store/redis_tls.c: TLS to Redis through a socketpair (redis_tls.h). hiredis 0.14.1, the one in Debian 12, has no
 * TLS of its own (no hiredis_ssl), and GnuTLS is already in the stack: hiredis talks plain RESP on one end of a
 * socketpair, and a pump thread per connection carries the bytes to and from a GnuTLS session on the TCP socket.
 * A connection is a pool entry that lives long, so a thread each costs little (at most the pool plus the probe). */
#include "store/redis_tls.h"

#include "common/common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct pump {
	struct pump *next;
	pthread_t th;
	gnutls_session_t s;
	int tcp, local; /* local: the pump's end of the socketpair */
	atomic_bool done;
};

struct st_tls {
	gnutls_certificate_credentials_t cred;
	char *name; /* the certificate's name, or NULL: the host */
	pthread_mutex_t mu;
	struct pump *pumps;
};

int st_tls_new(const char *ca_file, const char *server_name, struct st_tls **out, char *why, size_t cap)
{
	struct st_tls *t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	int rc = gnutls_certificate_allocate_credentials(&t->cred);
	if (rc == GNUTLS_E_SUCCESS) {
		rc = ca_file ? gnutls_certificate_set_x509_trust_file(t->cred, ca_file, GNUTLS_X509_FMT_PEM)
			     : gnutls_certificate_set_x509_system_trust(t->cred);
		if (rc == 0) {
			ch_fmt(why, cap, "no CA certificate in %s", ca_file ? ca_file : "the system's trust store");
			rc = GNUTLS_E_NO_CERTIFICATE_FOUND;
		} else if (rc < 0) {
			ch_fmt(why, cap, "%s: %s", ca_file ? ca_file : "the system's trust store", gnutls_strerror(rc));
		}
	} else {
		ch_fmt(why, cap, "%s", gnutls_strerror(rc));
		t->cred = NULL;
	}
	if (rc >= 0 && server_name && !(t->name = ch_strndup(server_name, strlen(server_name))))
		rc = GNUTLS_E_MEMORY_ERROR;
	if (rc < 0) {
		if (t->cred)
			gnutls_certificate_free_credentials(t->cred);
		free(t);
		return EINVAL;
	}
	pthread_mutex_init(&t->mu, NULL);
	*out = t;
	return 0;
}

/* Under mu: join the pumps that have ended. */
static void reap_locked(struct st_tls *t, bool all)
{
	struct pump **pp = &t->pumps;
	while (*pp) {
		struct pump *p = *pp;
		if (all || atomic_load(&p->done)) {
			pthread_join(p->th, NULL);
			*pp = p->next;
			free(p);
		} else {
			pp = &p->next;
		}
	}
}

void st_tls_free(struct st_tls *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	reap_locked(t, true);
	pthread_mutex_unlock(&t->mu);
	pthread_mutex_destroy(&t->mu);
	gnutls_certificate_free_credentials(t->cred);
	free(t->name);
	free(t);
}

/* A connected TCP socket (blocking once connected), or -1 with why. */
static int tcp_connect(const char *host, int port, int64_t ms, char *why, size_t cap)
{
	char ps[16];
	ch_fmt(ps, sizeof(ps), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, ps, &hints, &res);
	if (g != 0) {
		ch_fmt(why, cap, "%s: %s", host, gai_strerror(g));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		int err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
		if (err == EINPROGRESS) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			int n = poll(&pf, 1, (int)ms);
			socklen_t l = sizeof(err);
			err = n == 0                                           ? ETIMEDOUT
			      : n < 0                                          ? errno
			      : getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) ? errno
									       : err;
		}
		if (err) {
			ch_fmt(why, cap, "%s", err == ETIMEDOUT ? "Connection timed out" : strerror(err));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd >= 0)
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

#define PUT_RETRY ((ssize_t)-1000000) /* neither an errno nor a GnuTLS error code */

/* One write of up to n bytes to the socketpair or to the TLS session: what was written, PUT_RETRY, else <= 0 on
 * failure. */
static ssize_t put_local(struct pump *p, const char *b, size_t n)
{
	ssize_t w = send(p->local, b, n, MSG_NOSIGNAL);
	return w < 0 && errno == EINTR ? PUT_RETRY : w;
}

static ssize_t put_tls(struct pump *p, const char *b, size_t n)
{
	ssize_t w = gnutls_record_send(p->s, b, n);
	return w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED ? PUT_RETRY : w;
}

/* All n bytes through put, retrying what it asks to be retried; 0, or -1. */
static int put_all(struct pump *p, ssize_t (*put)(struct pump *, const char *, size_t), const char *b, size_t n)
{
	while (n) {
		ssize_t w = put(p, b, n);
		if (w == PUT_RETRY)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Bytes both ways until either side closes or fails; then both ends are closed (hiredis reads EOF). */
static void *pump_main(void *arg)
{
	struct pump *p = arg;
	char buf[16384];
	for (;;) {
		struct pollfd pf[2] = {{.fd = p->tcp, .events = POLLIN}, {.fd = p->local, .events = POLLIN}};
		if (gnutls_record_check_pending(p->s) > 0) {
			pf[0].revents = POLLIN; /* decrypted bytes wait in GnuTLS: the socket may have nothing */
			pf[1].revents = 0;
		} else if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = gnutls_record_recv(p->s, buf, sizeof(buf));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n <= 0 || put_all(p, put_local, buf, (size_t)n) != 0)
				break;
		}
		if (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(p->local, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0 || put_all(p, put_tls, buf, (size_t)n) != 0)
				break;
		}
	}
	shutdown(p->local, SHUT_RDWR);
	close(p->local);
	close(p->tcp);
	gnutls_deinit(p->s);
	atomic_store(&p->done, true);
	return NULL;
}

static bool is_ip(const char *h)
{
	unsigned char a[16];
	return inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1;
}

/* The handshake on fd, the certificate checked against name; 0, or -1 with why. */
static int handshake(struct st_tls *t, gnutls_session_t s, int fd, const char *name, int64_t ms, char *why, size_t cap)
{
	int rc = gnutls_set_default_priority(s);
	if (rc == 0)
		rc = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (rc == 0 && !is_ip(name))
		rc = gnutls_server_name_set(s, GNUTLS_NAME_DNS, name, strlen(name));
	if (rc != 0) {
		ch_fmt(why, cap, "TLS: %s", gnutls_strerror(rc));
		return -1;
	}
	gnutls_session_set_verify_cert(s, name, 0);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, (unsigned)ms);
	do
		rc = gnutls_handshake(s);
	while (rc < 0 && !gnutls_error_is_fatal(rc));
	if (rc == 0)
		return 0;
	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		gnutls_datum_t txt = {0};
		unsigned st = gnutls_session_get_verify_cert_status(s);
		if (gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &txt, 0) == 0) {
			ch_fmt(why, cap, "TLS: the server's certificate for \"%s\" is refused: %s", name,
			       (char *)txt.data);
			gnutls_free(txt.data);
			return -1;
		}
	}
	ch_fmt(why, cap, "TLS handshake: %s", gnutls_strerror(rc));
	return -1;
}

int st_tls_open(struct st_tls *t, const char *host, int port, int64_t connect_ms, char *why, size_t cap)
{
	pthread_mutex_lock(&t->mu);
	reap_locked(t, false);
	pthread_mutex_unlock(&t->mu);
	int fd = tcp_connect(host, port, connect_ms, why, cap);
	if (fd < 0)
		return -1;
	struct pump *p = calloc(1, sizeof(*p));
	int sv[2] = {-1, -1};
	if (!p || gnutls_init(&p->s, GNUTLS_CLIENT) != GNUTLS_E_SUCCESS) {
		ch_fmt(why, cap, "out of memory");
		free(p);
		close(fd);
		return -1;
	}
	if (handshake(t, p->s, fd, t->name ? t->name : host, connect_ms, why, cap) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		if (!why[0])
			ch_fmt(why, cap, "socketpair: %s", strerror(errno));
		gnutls_deinit(p->s);
		free(p);
		close(fd);
		return -1;
	}
	p->tcp = fd;
	p->local = sv[1];
	pthread_mutex_lock(&t->mu);
	int rc = pthread_create(&p->th, NULL, pump_main, p);
	if (rc == 0) {
		p->next = t->pumps;
		t->pumps = p;
	}
	pthread_mutex_unlock(&t->mu);
	if (rc != 0) {
		ch_fmt(why, cap, "pthread_create: %s", strerror(rc));
		close(sv[0]);
		close(sv[1]);
		gnutls_deinit(p->s);
		free(p);
		close(fd);
		return -1;
	}
	return sv[0];
}
