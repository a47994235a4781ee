/* A job worker that reports its queue's depth to memvisor as a gauge, with the C worker library
 * (`pkg-config --cflags --libs memvisor-worker`). A rule can then recycle it on that number:
 *
 *   [service.jobs]
 *   command = ["./queue_worker"]
 *   limit = { size = 1000, for = 2, metric = "gauge:queue_depth" }
 *
 * The depth here is made up: it follows QUEUE_DEPTH from the environment (default 10), or, with
 * QUEUE_GROWTH set, grows by that much every 200 ms, as a queue whose consumer has stalled. */
#include <memvisor/worker.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double env_number(const char* name, double fallback) {
  const char* text = getenv(name);
  return text != NULL && text[0] != '\0' ? strtod(text, NULL) : fallback;
}

int main(void) {
  double depth = env_number("QUEUE_DEPTH", 10);
  const double growth = env_number("QUEUE_GROWTH", 0);
  mv_status("consuming");
  mv_ready(); /* also READY=1 to NOTIFY_SOCKET */
  for (;;) {
    /* Base units and a Prometheus-style name: a count has no unit suffix, bytes end in _bytes. */
    if (mv_gauge("queue_depth", depth) != 0) fprintf(stderr, "queue_depth refused\n");
    mv_gauge("queue_oldest_job_age_seconds", depth / 50.0);
    depth += growth;
    const struct timespec pause = {0, 200 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
}
