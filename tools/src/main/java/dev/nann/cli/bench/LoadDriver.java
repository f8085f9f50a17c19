package dev.nann.cli.bench;

import dev.nann.corpus.Corpus;
import dev.nann.local.JitActivity;
import dev.nann.local.LatencyStats;
import dev.nann.local.LocalStack;
import dev.nann.local.ServingClient;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/** Open-loop load against a running local stack: requests at a fixed rate, answers matched by id. */
final class LoadDriver {
  private LoadDriver() {}

  /**
   * What one rate step measured. {@code client} is timed from when each request was due (its place in
   * the step's schedule), so a sender that fell behind does not hide the wait; {@code senderLag} is
   * how late each left. {@code qps} and {@code answered} count every answer, {@code errors} the ones
   * with an error status, {@code lost} requests never answered. {@code cpuMillisPerRequest} and {@code coresBusy} are this JVM's CPU time over
   * the step (broker, job and load generator all run in it; JIT and GC included), per answer and
   * per second of wall time; {@code cpuMillisPerRequestByThread} is all of it per answer by what the
   * threads do ({@link ThreadCpu}).
   */
  record Step(double qps, int answered, int errors, LatencyStats client, LatencyStats job, LatencyStats engine,
              double meanScored, double meanCalls, Map<String, LatencyStats> stages, int lost, int duplicates,
              double cpuMillisPerRequest, double coresBusy, Map<String, Double> cpuMillisPerRequestByThread,
              LatencyStats senderLag) {
    /** Whether every request was answered without an error status (repeats, which the client drops, do not count). */
    boolean clean() {
      return errors == 0 && lost == 0;
    }

    /**
     * The engine's walker threads' share per answer, where a request's user network, walk and score
     * calls run: set against the scorer's bare ceiling, it shows what the scoring costs inside the job.
     */
    double walkerCpuMillisPerRequest() {
      return cpuMillisPerRequestByThread.getOrDefault(ThreadCpu.WALKERS, 0.0);
    }

    /**
     * The engine's CPU per answer: its walker threads' and, with micro-batching, its score dispatcher's
     * (where the merged calls run), everything a request costs inside the retrieval engine.
     */
    double engineCpuMillisPerRequest() {
      return walkerCpuMillisPerRequest() + cpuMillisPerRequestByThread.getOrDefault(ThreadCpu.SCORE_BATCHER, 0.0);
    }
  }

  /** A step's CPU (all of it, and per answer by thread role) and wall time up to a moment. */
  private record Usage(double cpuMs, Map<String, Double> byThread, double wallMs) {
    /** From the step's start to now, once the sender has ended (its CPU counted as the load generator's). */
    static Usage since(Thread sender, AtomicLong senderCpu, long start, long cpuStart, Map<String, Long> threadsStart,
                       int answered) throws InterruptedException {
      sender.join();   // it has sent everything by now; ended, it is in no snapshot
      long cpuEnd = processCpuNanos();
      Map<String, Long> threadsEnd = ThreadCpu.snapshot(cpuEnd);
      ThreadCpu.moveEnded(threadsEnd, ThreadCpu.LOAD_GENERATOR, senderCpu.get());
      return new Usage((cpuEnd - cpuStart) / 1e6, ThreadCpu.perRequest(threadsStart, threadsEnd, answered),
          Math.max(1e-6, (System.nanoTime() - start) / 1e6));
    }
  }

  /** CPU time of this whole process so far (every thread, user and system). */
  static long processCpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
        .getProcessCpuTime();
  }

  /** The breakdown's stages in pipeline order: the job's (from each answer's timings), then the client's. */
  static final List<String> STAGES = List.of("kafka_in", "keyby", "state", "queue", "user_network", "walk", "scorer",
      "to_router", "kafka_out");

  /** Replays every user's behaviour, waits for the job to serve, then 20 s of unreported load at {@code rate}. */
  static void warm(LocalStack stack, Corpus corpus, double rate, int k) throws Exception {
    int sent = stack.client.replayBehaviour(corpus);
    System.err.printf("[bench] %,d behaviour events sent; waiting for the job to serve%n", sent);
    try (KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow()) {
      stack.client.awaitServing(responses, 0, Duration.ofMinutes(3));
    }
    // so the JIT, RocksDB and the runtime are settled before measuring
    System.err.println("[bench] warm-up: 20 s at the first rate (not reported)");
    step(stack.client, rate, corpus.users().size(), 20, k);
    // the broker, Flink and the job hand the JIT minutes of code: on 2 cores its compiler threads held
    // half a core for the first ~70 s, so warm on until they have nearly finished
    JitActivity jit = new JitActivity();
    for (int extra = 0; jit.measurable() && extra < MAX_EXTRA_WARM_STEPS; extra++) {
      jit.shareSinceLast();
      step(stack.client, rate, corpus.users().size(), 5, k);
      double share = jit.shareSinceLast();
      if (share <= JitActivity.SETTLED_SHARE) {
        break;
      }
      System.err.printf(Locale.ROOT, "[bench] warm-up: the JIT compiled %.0f%% of the last 5 s; 5 s more%n", 100 * share);
    }
  }

  /** Warm-up steps of 5 s after the first 20 s, at most, waiting for the JIT to settle. */
  static final int MAX_EXTRA_WARM_STEPS = 24;

  /** Sends {@code rate} requests/s for {@code secs} seconds to random users and collects the answers. */
  static Step step(ServingClient client, double rate, int userCount, int secs, int k) throws Exception {
    // when each request was due and when it left: a sender that fell behind (a collection, both cores
    // busy) sends late, and a client timed from the late send would hide the wait (coordinated omission)
    ConcurrentHashMap<String, long[]> sentAt = new ConcurrentHashMap<>();
    AtomicLong senderCpu = new AtomicLong();
    int total = (int) Math.round(rate * secs);
    LatencyStats clientLat = new LatencyStats();
    LatencyStats jobLat = new LatencyStats();
    LatencyStats engineLat = new LatencyStats();
    Map<String, LatencyStats> stages = new LinkedHashMap<>();
    STAGES.forEach(st -> stages.put(st, new LatencyStats()));
    try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
      Thread sender = new Thread(() -> {
        long start = System.nanoTime();
        long interval = (long) (1e9 / rate);
        SplittableRandom rnd = new SplittableRandom(total);
        for (int i = 0; i < total; i++) {
          long due = start + i * interval;
          Pacing.parkUntil(due);
          RetrievalRequest r = ServingClient.request(rnd.nextInt(userCount), k, "nann");
          sentAt.put(r.getRequestId(), new long[] {due, System.nanoTime()});
          client.send(r);
        }
        client.flush();
        // the thread's CPU, for the load generator's share: a thread that has ended is in no snapshot
        senderCpu.set(java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime());
      }, "bench-sender");
      long start = System.nanoTime();
      long cpuStart = processCpuNanos();
      Map<String, Long> threadsStart = ThreadCpu.snapshot(cpuStart);
      sender.start();
      int answered = 0;
      int errors = 0;
      int duplicates = 0;
      java.util.Set<String> seen = new java.util.HashSet<>();
      double scored = 0;
      double calls = 0;
      long last = start;
      LatencyStats senderLag = new LatencyStats();
      long deadline = start + (secs + 10) * 1_000_000_000L;
      long repeatsUntil = Long.MAX_VALUE;   // once all are answered, a second more to see repeats
      Usage usage = null;   // the step's CPU and wall time, taken when the last answer came (not over the repeats' second)
      for (long now = System.nanoTime(); now < Math.min(deadline, repeatsUntil); now = System.nanoTime()) {
        if (answered == total && repeatsUntil == Long.MAX_VALUE) {
          usage = Usage.since(sender, senderCpu, start, cpuStart, threadsStart, answered);
          repeatsUntil = now + 1_000_000_000L;
        }
        for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(5))) {
          long received = System.nanoTime();
          RetrievalResponse resp = client.decode(rec);
          long[] t0 = sentAt.remove(resp.getRequestId());
          if (t0 == null) {
            duplicates += seen.contains(resp.getRequestId()) ? 1 : 0;
            continue;
          }
          answered++;
          seen.add(resp.getRequestId());
          last = received;
          senderLag.add((t0[1] - t0[0]) / 1e6f);
          if (resp.getStatus() != ResponseStatus.OK && resp.getStatus() != ResponseStatus.COLD_START) {
            errors++;
            continue;
          }
          float clientMs = (received - t0[0]) / 1e6f;   // from when it was due: the wait a client would see
          float sentMs = (received - t0[1]) / 1e6f;
          clientLat.add(clientMs);
          jobLat.add(resp.getLatencyMillis());
          resp.getTimings().forEach((st, ms) -> {
            LatencyStats l = stages.get(st);
            if (l != null) {
              l.add(ms);
            }
          });
          // produce, broker and fetch to this client (the request record's timestamp is its send time)
          stages.get("kafka_out").add(Math.max(0, sentMs - resp.getLatencyMillis()));
          engineLat.add(resp.getEngineMillis());
          scored += resp.getItemsScored();
          calls += resp.getScoreCalls();
        }
      }
      if (usage == null) {   // not all answered within the step's deadline
        usage = Usage.since(sender, senderCpu, start, cpuStart, threadsStart, answered);
      }
      double cpuMs = usage.cpuMs();
      Map<String, Double> byThread = usage.byThread();
      double wallMs = usage.wallMs();
      double qps = answered / Math.max(1e-9, (last - start) / 1e9);
      System.err.printf(Locale.ROOT, "[bench] %6.0f req/s offered: %6.1f answered/s  p50 %6.1f  p99 %6.1f ms  "
              + "(job p99 %.1f, engine p50 %.2f ms; CPU %.2f ms a request all in, %.2f on the walkers, %.2f cores busy)%n",
          rate, qps, clientLat.quantile(0.5), clientLat.quantile(0.99), jobLat.quantile(0.99), engineLat.quantile(0.5),
          cpuMs / Math.max(1, answered), byThread.get(ThreadCpu.WALKERS), cpuMs / wallMs);
      // what never came back within 10 s of the last send, and answers seen twice (at-least-once
      // delivery may repeat answers after a job restart; none is expected without one)
      int ok = Math.max(1, answered - errors);
      return new Step(qps, answered, errors, clientLat, jobLat, engineLat,
          answered == 0 ? 0 : scored / ok, answered == 0 ? 0 : calls / ok, stages, total - answered, duplicates,
          cpuMs / Math.max(1, answered), cpuMs / wallMs, byThread, senderLag);
    }
  }
}
