package dev.nann.cli.bench;

import static dev.nann.cli.JsonLines.round;

import dev.nann.cli.JsonLines;
import dev.nann.cli.ServingSettings;
import dev.nann.corpus.Corpus;
import dev.nann.local.LatencyStats;
import dev.nann.local.LocalStack;
import dev.nann.local.ServingClient;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench overload}: a steady rate, then a multiple of it with a share of {@code brute}
 * requests, then the steady rate again; per phase the statuses (OVERLOADED counted), the most
 * requests outstanding at once, p99 latency, requests lost, and how long after the overload ends
 * the p99 of one-second windows is back to its steady value.
 */
@Command(name = "overload", mixinStandardHelpOptions = true,
    description = "Steady load, then several times it with brute requests mixed in, then steady again: shedding, "
        + "bounded backlog, recovery time, nothing lost.")
public final class OverloadBench implements Callable<Integer> {
  @Mixin
  BenchCatalog catalog;

  @Mixin
  ServingSettings settings;

  @Option(names = "--rate", description = "steady requests/s (default: ${DEFAULT-VALUE})")
  double rate = 40;

  @Option(names = "--factor", description = "overload = this times the steady rate (default: ${DEFAULT-VALUE})")
  double factor = 3;

  @Option(names = "--brute-share", description = "share of brute requests during the overload (default: ${DEFAULT-VALUE})")
  double bruteShare = 0.1;

  @Option(names = "--steady-s", description = "seconds of steady load before and after (default: ${DEFAULT-VALUE})")
  int steadySeconds = 30;

  @Option(names = "--overload-s", description = "seconds of overload (default: ${DEFAULT-VALUE})")
  int overloadSeconds = 60;

  @Option(names = "--k", description = "items per answer (default: ${DEFAULT-VALUE})")
  int k = 200;

  @Option(names = "--json", description = "also append JSON lines to this file")
  java.nio.file.Path json;

  /** One request: when it was sent, in which phase, and (once answered) its latency and status. */
  private record Sent(long sentNanos, int phase) {
  }

  @Override
  public Integer call() throws Exception {
    if (!(rate > 0 && rate < 1e6) || !(factor > 0 && rate * factor < 1e6) || !(bruteShare >= 0 && bruteShare <= 1)
        || steadySeconds < 1 || overloadSeconds < 1 || k < 1) {
      throw new IllegalArgumentException("--rate and --factor must be above 0 (rate x factor below a million), "
          + "--brute-share in [0, 1], --steady-s, --overload-s and --k at least 1");
    }
    Corpus corpus = catalog.corpus();
    Map<String, String> s = settings.copy();
    s.put("kafka.delivery", "at-least-once");
    s.putIfAbsent("async.timeout-ms", "5000");
    try (LocalStack stack = LocalStack.start(BenchCatalog.repo().resolve(".nann-bench"), catalog.modelDir(),
        corpus.itemIds(), corpus.embeddings(), corpus.dim(), s, null, System.err)) {
      LoadDriver.warm(stack, corpus, rate, k);
      ServingClient client = stack.client;
      ConcurrentHashMap<String, Sent> pending = new ConcurrentHashMap<>();
      long start = System.nanoTime();
      long overloadFrom = start + steadySeconds * 1_000_000_000L;
      long overloadTo = overloadFrom + overloadSeconds * 1_000_000_000L;
      long end = overloadTo + steadySeconds * 1_000_000_000L;
      int[] sentPerPhase = new int[3];
      Thread sender = new Thread(() -> {
        SplittableRandom rnd = new SplittableRandom(5);
        long next = start;
        while (next < end) {
          Pacing.parkUntil(next);
          int phase = next < overloadFrom ? 0 : next < overloadTo ? 1 : 2;
          boolean brute = phase == 1 && rnd.nextDouble() < bruteShare;
          RetrievalRequest r = ServingClient.request(rnd.nextInt(corpus.users().size()), k, brute ? "brute" : "nann");
          // timed from when it was due: a sender held back (a collection, both cores busy) must not hide the wait
          pending.put(r.getRequestId(), new Sent(next, phase));
          client.send(r);
          sentPerPhase[phase]++;
          next += (long) (1e9 / (phase == 1 ? rate * factor : rate));
        }
        client.flush();
      }, "bench-overload-sender");
      List<EnumMap<ResponseStatus, Integer>> statuses = List.of(new EnumMap<>(ResponseStatus.class),
          new EnumMap<>(ResponseStatus.class), new EnumMap<>(ResponseStatus.class));
      List<LatencyStats> latency = List.of(new LatencyStats(), new LatencyStats(), new LatencyStats());
      Map<Long, LatencyStats> perSecond = new java.util.TreeMap<>();
      int maxOutstanding = 0;
      try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
        sender.start();
        while (System.nanoTime() < end + 30_000_000_000L && (sender.isAlive() || !pending.isEmpty())) {
          maxOutstanding = Math.max(maxOutstanding, pending.size());
          for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(20))) {
            long now = System.nanoTime();
            RetrievalResponse resp = client.decode(rec);
            Sent sent = pending.remove(resp.getRequestId());
            if (sent == null) {
              continue;
            }
            statuses.get(sent.phase()).merge(resp.getStatus(), 1, Integer::sum);
            if (resp.getStatus() == ResponseStatus.OK || resp.getStatus() == ResponseStatus.COLD_START) {
              float ms = (now - sent.sentNanos()) / 1e6f;
              latency.get(sent.phase()).add(ms);
              perSecond.computeIfAbsent((sent.sentNanos() - start) / 1_000_000_000L, x -> new LatencyStats()).add(ms);
            }
          }
        }
        sender.join();
      }
      double steadyP99 = latency.get(0).quantile(0.99);
      long overloadEndSecond = (overloadTo - start) / 1_000_000_000L;
      // recovered: the first one-second window after the overload whose p99 is back near steady; how
      // many of the windows after it are back too says whether it stayed so
      double backBelow = Math.max(1.2 * steadyP99, steadyP99 + 10);
      long recoveredAfter = -1;
      int windowsAfter = 0;
      int windowsBack = 0;
      for (Map.Entry<Long, LatencyStats> e : perSecond.entrySet()) {
        if (e.getKey() < overloadEndSecond) {
          continue;
        }
        boolean back = e.getValue().quantile(0.99) <= backBelow;
        if (recoveredAfter < 0 && back) {
          recoveredAfter = e.getKey() - overloadEndSecond;
        }
        if (recoveredAfter >= 0) {
          windowsAfter++;
          windowsBack += back ? 1 : 0;
        }
      }
      List<String> lines = new ArrayList<>();
      String[] names = {"steady", "overload", "after"};
      for (int p = 0; p < 3; p++) {
        var line = JsonLines.object().put("bench", "overload").put("phase", names[p]).put("sent", sentPerPhase[p])
            .put("offered_qps", round(p == 1 ? rate * factor : rate, 0))
            .put("p50_ms", round(latency.get(p).quantile(0.5), 1)).put("p99_ms", round(latency.get(p).quantile(0.99), 1));
        statuses.get(p).forEach((st, n) -> line.put(st.name().toLowerCase(), n));
        lines.add(JsonLines.line(line));
      }
      lines.add(JsonLines.line(JsonLines.object().put("bench", "overload-summary").put("brute_share", round(bruteShare, 2))
          .put("max_outstanding", maxOutstanding).put("lost", pending.size())
          .put("steady_p99_ms", round(steadyP99, 1)).put("recovered_after_s", recoveredAfter)
          .put("windows_back_after_recovery", round(windowsAfter == 0 ? 0 : windowsBack / (double) windowsAfter, 2))));
      lines.forEach(System.out::println);
      JsonLines.append(json, lines);
      return pending.isEmpty() ? 0 : 1;
    }
  }
}
