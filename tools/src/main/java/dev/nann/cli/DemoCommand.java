package dev.nann.cli;

import dev.nann.client.NannClient;
import dev.nann.jobs.ServingOptions;
import dev.nann.local.DemoCatalog;
import dev.nann.local.LatencyStats;
import dev.nann.local.LocalStack;
import dev.nann.local.ServingClient;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./nann demo}: the whole system on one machine. Starts a real Kafka broker, publishes an
 * index of the MovieLens demo catalog, runs the serving job on a MiniCluster, replays the rating
 * log as user events with requests in between, and prints answers and a live stats line.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = {"Runs nann locally: a real Kafka broker on 127.0.0.1, index-sync and the serving job on a Flink",
        "MiniCluster, the MovieLens demo catalog and model from demo/. Replays user events and requests and prints",
        "answers with a stats line. Ctrl-C stops it; with --requests N it stops after N answers and prints a JSON summary."})
public final class DemoCommand implements Callable<Integer> {
  @Option(names = "--requests", description = "stop after this many answers and print a JSON summary (0: run until Ctrl-C)")
  int requests;

  @Option(names = "--rate", description = "requests per second (default: ${DEFAULT-VALUE})")
  double rate = 50;

  @Option(names = "--events-per-request", description = "user events replayed between two requests (default: ${DEFAULT-VALUE})")
  int eventsPerRequest = 5;

  @Option(names = "--warm-events", description = "events replayed before the first request (default: ${DEFAULT-VALUE})")
  int warmEvents = 20_000;

  @Option(names = "--warm-up", paramLabel = "SECONDS", description = "requests at --rate before the counting starts, "
      + "for at most this long: until the JIT compiles under 10%% of a core over 2 s (0: count from the first; "
      + "default: ${DEFAULT-VALUE})")
  int warmUpSeconds = 30;

  @Option(names = "--k", description = "items per answer (default: ${DEFAULT-VALUE})")
  int k = 50;

  @Option(names = "--show-every", description = "print every n-th answer (0: none; default: ${DEFAULT-VALUE})")
  int showEvery = 25;

  @Option(names = "--demo-dir", description = "catalog, events and model (default: <repo>/demo)")
  Path demoDir;

  @Option(names = "--work-dir", description = "broker address, snapshots, checkpoints (default: <repo>/.nann-demo)")
  Path workDir;

  @Mixin
  ServingSettings settings;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  /** Beyond this the sender would do nothing but send (a 2-core machine answers a few hundred a second). */
  static final double MAX_RATE = 100_000;

  private final AtomicBoolean stop = new AtomicBoolean();

  @Override
  public Integer call() throws Exception {
    if (!(rate > 0 && rate <= MAX_RATE)) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--rate " + rate
          + ": give requests per second in (0, " + MAX_RATE + "]");
    }
    if (requests < 0 || eventsPerRequest < 0 || warmEvents < 0 || warmUpSeconds < 0 || k < 1) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(),
          "--requests, --events-per-request, --warm-events and --warm-up take 0 or more, --k 1 or more");
    }
    Path repo = Path.of(System.getProperty("nann.repo", "."));
    Path demo = demoDir != null ? demoDir : repo.resolve("demo");
    Path work = workDir != null ? workDir : repo.resolve(".nann-demo");
    DemoCatalog catalog = DemoCatalog.load(demo);
    System.err.printf("[demo] catalog: %,d MovieLens items, %,d rating events%n", catalog.ids().length, catalog.events().size());
    LocalStack stack = LocalStack.start(work, demo.resolve("model"), catalog.ids(), catalog.embeddings(), catalog.dim(),
        settings.copy(), Map.of(), System.err);
    CountDownLatch stopped = new CountDownLatch(1);
    Thread hook = new Thread(() -> {
      stop.set(true);
      try {
        stopped.await(90, java.util.concurrent.TimeUnit.SECONDS);   // the cleanup, bounded: a second Ctrl-C is not needed
      } catch (InterruptedException ignored) {
        Thread.currentThread().interrupt();
      }
    });
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      return run(stack, catalog);
    } finally {
      System.err.println("[demo] stopping: cancelling the job, stopping the broker");
      stack.close();
      stopped.countDown();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // Ctrl-C: the hook is running and waits for this cleanup
      }
    }
  }

  private int run(LocalStack stack, DemoCatalog catalog) throws Exception {
    ServingClient client = stack.client;
    List<DemoCatalog.Event> events = catalog.events();
    Set<Long> known = new HashSet<>();
    int next = 0;
    for (; next < Math.min(warmEvents, events.size()); next++) {
      client.send(event(events.get(next)));
      known.add(events.get(next).user());
    }
    client.flush();
    System.err.printf("[demo] replayed %,d events; waiting for the job to answer from the index ...%n", next);
    try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
      client.awaitServing(responses, events.get(0).user(), Duration.ofMinutes(2));
    }
    // requests go through the application client: one future per request, each answered once
    try (NannClient nann = new NannClient(stack.config.get(ServingOptions.BOOTSTRAP_SERVERS),
        stack.config.get(ServingOptions.TOPIC_REQUESTS), stack.config.get(ServingOptions.TOPIC_RESPONSES), Map.of())) {
      DemoWarmUp warmUp = new DemoWarmUp(warmUpSeconds, System.err);
      System.err.printf("[demo] serving. %s%s%n", warmUp.warming() ? "Warming up first (at most " + warmUpSeconds
          + " s, until the JIT settles; those answers are shown, not counted). " : "",
          requests > 0 ? "Stops after " + requests + " answers." : "Ctrl-C stops.");
      List<Long> users = new ArrayList<>(known);
      Random rnd = new Random(42);
      ConcurrentLinkedQueue<Answered> done = new ConcurrentLinkedQueue<>();
      LatencyStats clientLatency = new LatencyStats();
      LatencyStats latency = new LatencyStats();
      int answered = 0;        // counted: answers to requests sent after the warm-up
      int errors = 0;
      int failed = 0;          // counted requests whose future failed: no answer came
      int sent = 0;            // counted requests sent
      int inFlight = 0;
      long start = System.nanoTime();
      long lastStats = start;
      long lastAnswerNanos = start;
      long intervalNanos = (long) (1e9 / rate);
      long nextSend = start;
      String jobEnded = null;
      while (!stop.get() && jobEnded == null && (requests == 0 || answered + failed < requests)) {
        long now = System.nanoTime();
        while (now >= nextSend && (warmUp.warming() || requests == 0 || sent < requests)) {
          for (int e = 0; e < eventsPerRequest && next < events.size(); e++, next++) {
            client.send(event(events.get(next)));
            if (known.add(events.get(next).user())) {
              users.add(events.get(next).user());
            }
          }
          // mostly users with history; now and then one never seen (cold start)
          long user = users.isEmpty() || rnd.nextInt(20) == 0 ? 100_000 + rnd.nextInt(1000)
              : users.get(rnd.nextInt(users.size()));
          long sentAt = nextSend;   // timed from when it was due: a late loop must not hide the wait
          boolean counted = !warmUp.warming();
          nann.retrieve(NannClient.request(user, k)).whenComplete((resp, failure) ->
              done.add(new Answered(resp, failure, (System.nanoTime() - sentAt) / 1e6f, counted)));
          inFlight++;
          sent += counted ? 1 : 0;
          nextSend += intervalNanos;
        }
        client.flush();
        Answered a = done.poll();
        if (a == null) {   // wait for an answer, at most until the next request is due
          boolean sending = warmUp.warming() || requests == 0 || sent < requests;
          long untilDue = sending ? Math.max(0, nextSend - System.nanoTime()) : Long.MAX_VALUE;
          java.util.concurrent.locks.LockSupport.parkNanos(Math.min(2_000_000L, untilDue));
        }
        for (; a != null; a = done.poll()) {
          RetrievalResponse resp = a.response();
          inFlight--;
          if (a.failure() != null) {   // never answered: the client gave up or could not send it
            failed += a.counted() ? 1 : 0;
            System.err.println("[demo] a request got no answer: " + a.failure());
            continue;
          }
          boolean ok = resp.getStatus() == ResponseStatus.OK || resp.getStatus() == ResponseStatus.COLD_START;
          int shown;
          if (a.counted()) {
            shown = ++answered;
            lastAnswerNanos = System.nanoTime();
            clientLatency.add(a.clientMillis());
            latency.add(resp.getLatencyMillis());
            errors += ok ? 0 : 1;
          } else {
            shown = warmUp.answered();
          }
          if (showEvery > 0 && ((shown - 1) % showEvery == 0 || !ok)) {   // the 1st, (n+1)th, ... answer
            System.out.println(describe(resp, a.clientMillis(), catalog));
          }
        }
        if (System.nanoTime() - lastStats > 2_000_000_000L) {
          lastStats = System.nanoTime();
          jobEnded = ended(stack);
          if (warmUp.warming()) {
            warmUp.look();
            if (!warmUp.warming()) {
              start = warmUp.endNanos();   // the counting's clock starts when the warm-up ends
            }
            continue;
          }
          double secs = (lastStats - start) / 1e9;
          System.err.printf(Locale.ROOT, "[stats] answered %,d  errors %d  %.1f req/s  job p50 %.1f / p99 %.1f ms"
                  + "  client p50 %.1f / p99 %.1f ms  waiting %d%s%n", answered, errors, answered / secs, latency.quantile(0.5),
              latency.quantile(0.99), clientLatency.quantile(0.5), clientLatency.quantile(0.99), inFlight,
              failed > 0 ? "  no answer " + failed : "");
        }
      }
      if (jobEnded != null) {
        System.err.println("[demo] the serving job has stopped (" + jobEnded + "): see its log above");
      }
      double secs = Math.max(1e-9, (lastAnswerNanos - start) / 1e9);
      // p50/p99: request due (its place in the schedule) -> its future completed by NannClient (a read_committed consumer: with
      // kafka.delivery=exactly-once this includes the wait for the checkpoint that commits the answer);
      // job_*: record timestamp -> answer produced; answers to warm-up requests are not counted
      System.out.println(JsonLines.line(JsonLines.object().put("answered", answered).put("errors", errors).put("no_answer", failed)
          .put("p50_ms", JsonLines.round(clientLatency.quantile(0.5), 1))
          .put("p99_ms", JsonLines.round(clientLatency.quantile(0.99), 1)).put("qps", JsonLines.round(answered / secs, 1))
          .put("job_p50_ms", JsonLines.round(latency.quantile(0.5), 1))
          .put("job_p99_ms", JsonLines.round(latency.quantile(0.99), 1))
          .put("warm_up_answers", warmUp.answers()).put("warm_up_s", JsonLines.round(warmUp.seconds(), 1))
          .put("delivery", stack.config.get(ServingOptions.DELIVERY))));
      return jobEnded != null || failed > 0 || requests > 0 && answered < requests ? 1 : 0;
    }
  }

  /** The job's status if it has ended (failed past its restarts, cancelled), else null. */
  private static String ended(LocalStack stack) {
    try {
      org.apache.flink.api.common.JobStatus status = stack.job().getJobStatus().get(10, java.util.concurrent.TimeUnit.SECONDS);
      return status.isGloballyTerminalState() ? status.toString() : null;
    } catch (java.util.concurrent.TimeoutException slow) {   // a busy machine: not known to have ended
      return null;
    } catch (Exception e) {   // a MiniCluster that no longer answers has ended too
      return "unreachable: " + e;
    }
  }

  /**
   * An answer (or why none came), how long the client waited for it, and whether its request was
   * sent after the warm-up.
   */
  private record Answered(RetrievalResponse response, Throwable failure, float clientMillis, boolean counted) {
  }

  private static UserEvent event(DemoCatalog.Event e) {
    return UserEvent.newBuilder().setUserId(e.user()).setItemId(e.item()).setTimestampMillis(e.timestamp() * 1000)
        .setEventType("rating").build();
  }

  /** One answer as a line: user, status, the job's and the client's milliseconds, items scored, the first titles. */
  static String describe(RetrievalResponse r, float clientMillis, DemoCatalog catalog) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "user %-6d %-11s %5.1f ms (client %5.1f)  scored %4d  ", r.getUserId(),
        r.getStatus(), r.getLatencyMillis(), clientMillis, r.getItemsScored()));
    if (r.getItems().isEmpty()) {
      return b.append(r.getDetail()).toString();
    }
    for (int i = 0; i < Math.min(3, r.getItems().size()); i++) {
      b.append(i == 0 ? "" : " | ").append(catalog == null ? "item " + r.getItems().get(i) : catalog.title(r.getItems().get(i)));
    }
    return b.append(r.getItems().size() > 3 ? " | ..." : "").toString();
  }
}
