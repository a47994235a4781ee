/* memvisor worker library, C ABI: tell a memvisor supervisor that this worker is ready, what it is
 * doing and how many requests it has served, and answer its diagnostics requests.
 *
 * Every function is a no-op when MEMVISOR_SOCKET is not set, never blocks the caller on the
 * network, never raises a signal and is safe to call from any thread. The connection is kept by
 * one background thread, started by the first call; it reconnects with a jittered backoff when the
 * supervisor restarts. A child process after fork() starts over with its own connection and a
 * request count of zero.
 *
 * Link with `pkg-config --cflags --libs memvisor-worker`. */
#ifndef MEMVISOR_WORKER_H
#define MEMVISOR_WORKER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts the connection now rather than on the first call. Returns 1 when MEMVISOR_SOCKET is set
 * (connected or not yet), 0 when the library is a no-op. */
int mv_init(void);

/* The worker is ready to serve. Also sends READY=1 to NOTIFY_SOCKET when that is set, so the
 * controller's readiness (ready = "notify") is satisfied by this one call. */
void mv_ready(void);

/* One request served: an atomic increment, sent in batches by the background thread. */
void mv_request_done(void);

/* `count` requests served at once. */
void mv_requests_done(uint64_t count);

/* A short human status ("serving", "draining 3 connections"); also STATUS= to NOTIFY_SOCKET.
 * NULL is ignored; longer than 1 KiB is truncated. */
void mv_status(const char* text);

/* A gauge: a named number about this worker (a queue's depth, a runtime's live heap), its latest
 * value sent by the background thread; memvisor exports it in /metrics as
 * memvisor_worker_value{name="NAME"} and its rules can read it (metric = "gauge:NAME"). Names
 * follow Prometheus' rule, [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters), in base units with
 * the unit as suffix: heap_used_bytes, gc_pause_seconds, jobs_done_total. At most 32 names per
 * process. Returns 0 when queued (or the library is a no-op), -1 for a bad name, a value that is
 * not finite or a 33rd name. */
int mv_gauge(const char* name, double value);

/* 1 while connected to the supervisor and registered, 0 otherwise. */
int mv_connected(void);

/* Requests counted by this process so far (since start, or since fork in a child). */
uint64_t mv_requests_total(void);

#ifdef __cplusplus
}
#endif

#endif /* MEMVISOR_WORKER_H */
