/* hook/store_redis_int.h: what the Redis store's two files share: the function library's text. */
#ifndef HOOK_STORE_REDIS_INT_H
#define HOOK_STORE_REDIS_INT_H

extern const char hsr_library[];

#endif
