/* store/redis_tls.h: TLS to Redis for hiredis 0.14 (which has none): each connection is a GnuTLS session over TCP,
 * carried to hiredis through a socketpair by a pump thread of its own. */
#ifndef CH_STORE_REDIS_TLS_H
#define CH_STORE_REDIS_TLS_H

#include <stddef.h>
#include <stdint.h>

struct st_tls;

/* Credentials: the CA bundle that signs the server's certificate (NULL: the system's trust store), and the name
 * the certificate must carry (NULL: the host connected to). 0, or an errno with why. */
int st_tls_new(const char *ca_file, const char *server_name, struct st_tls **out, char *why, size_t cap);
/* Waits for the pump threads, whose hiredis ends must all be closed by then. NULL-safe. */
void st_tls_free(struct st_tls *t);
/* A TCP connection to host:port (at most connect_ms to connect and as long again for the handshake), the server's
 * certificate verified: the fd for redisConnectFd (hiredis's end of the tunnel; closing it ends the pump), or -1
 * with why. */
int st_tls_open(struct st_tls *t, const char *host, int port, int64_t connect_ms, char *why, size_t cap);

#endif
