package dev.nann.cli.bench;

import static dev.nann.cli.JsonLines.round;

import dev.nann.cli.JsonLines;
import dev.nann.cli.ServingSettings;
import dev.nann.corpus.Corpus;
import dev.nann.jobs.ServingOptions;
import dev.nann.local.LatencyStats;
import dev.nann.local.LocalStack;
import dev.nann.local.ServingClient;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * Freshness under load: the index-sync pipeline rebuilds while catalog upserts stream in at a
 * fixed rate and requests are answered. Probe items (clones of a probe user's best item under new
 * ids) measure upsert to first appearance in an answer; requests sent within 2 s before to 1 s
 * after an index swap are compared with the others.
 */
@Command(name = "freshness", mixinStandardHelpOptions = true,
    description = "Upsert to first appearance in an answer, and latency around index swaps, under load.")
public final class FreshnessBench implements Callable<Integer> {
  @Mixin
  BenchCatalog catalog;

  @Mixin
  LoadOptions load;

  @Mixin
  ServingSettings settings;

  @Option(names = "--upserts-per-s", description = "catalog upserts per second (default: ${DEFAULT-VALUE})")
  int upsertsPerSecond = 1000;

  @Option(names = "--rebuild-min-changes", description = "index-sync rebuild.min-changes (default: ${DEFAULT-VALUE})")
  int rebuildMinChanges = 5_000;

  @Option(names = "--move-in-place", description = "index-sync rebuild.move-in-place-fraction (default: ${DEFAULT-VALUE}; 0 = every update tombstones its node and inserts a new one)")
  double moveInPlace = 0.5;

  @Option(names = "--new-item-share", description = "share of upserts that add a new item (a perturbed copy of a random item under a new id) instead of updating an existing one (default: ${DEFAULT-VALUE})")
  double newItemShare = 0;

  @Override
  public Integer call() throws Exception {
    load.check();
    if (upsertsPerSecond < 1 || upsertsPerSecond > 1_000_000_000) {
      throw new IllegalArgumentException("--upserts-per-s must be at least 1, got " + upsertsPerSecond);
    }
    Path modelDir = catalog.modelDir();
    Corpus corpus = catalog.corpus();
    int d = corpus.dim();
    int k = load.k;
    int seconds = load.seconds;
    Map<String, String> s = settings.copy();
    s.put("kafka.delivery", load.delivery);
    s.put("async.timeout-ms", "5000");
    if (!(newItemShare >= 0 && newItemShare <= 1)) {
      throw new IllegalArgumentException("--new-item-share must be in [0, 1], got " + newItemShare);
    }
    Map<String, String> sync = Map.of("rebuild.min-changes", Integer.toString(rebuildMinChanges),
        "rebuild.max-interval-ms", "15000", "index.build-threads", "1",
        "rebuild.move-in-place-fraction", Double.toString(moveInPlace));
    double rate = load.rates().get(0);
    try (LocalStack stack = LocalStack.start(BenchCatalog.repo().resolve(".nann-bench"), modelDir, corpus.itemIds(), corpus.embeddings(),
        d, s, sync, System.err)) {
      LoadDriver.warm(stack, corpus, rate, k);
      ServingClient client = stack.client;
      String itemTopic = stack.config.get(ServingOptions.TOPIC_ITEM_EMBEDDINGS);
      float[] emb = corpus.embeddings();
      Map<Long, Integer> rowOf = new java.util.HashMap<>();
      for (int i = 0; i < corpus.size(); i++) {
        rowOf.put(corpus.itemIds()[i], i);
      }
      long probeUser = 0;
      ConcurrentHashMap<Long, Long> probeSentAt = new ConcurrentHashMap<>();
      ConcurrentHashMap<Long, Long> probeSeenAfter = new ConcurrentHashMap<>();
      ConcurrentHashMap<String, Long> sentAt = new ConcurrentHashMap<>();
      java.util.concurrent.atomic.AtomicLong bestItem = new java.util.concurrent.atomic.AtomicLong(-1);
      // probes and new items take ids past the catalogue's (a catalogue may use any id below them)
      long probeBase = java.util.Arrays.stream(corpus.itemIds()).max().orElse(-1) + 1;
      java.util.concurrent.atomic.AtomicLong requestsSent = new java.util.concurrent.atomic.AtomicLong();
      // {sentAt, latencyMicros, indexVersion, engine micros}
      List<long[]> answered = java.util.Collections.synchronizedList(new ArrayList<>());
      List<Long> swaps = java.util.Collections.synchronizedList(new ArrayList<>());
      long start = System.nanoTime();
      long end = start + seconds * 1_000_000_000L;
      Thread upserter = new Thread(() -> {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        long interval = 1_000_000_000L / upsertsPerSecond;
        long probeEvery = 500_000_000L;
        long nextProbe = start;
        long probeId = probeBase;
        long newId = probeBase + 1_000_000_000L;   // new items (--new-item-share), past any probe
        for (long i = 0; System.nanoTime() < end; i++) {
          Pacing.parkUntil(start + i * interval);
          int row = rnd.nextInt(corpus.size());
          List<Float> v = new ArrayList<>(d);
          for (int j = 0; j < d; j++) {
            v.add(emb[row * d + j] + (float) (0.01 * rnd.nextGaussian()));
          }
          long target = rnd.nextDouble() < newItemShare ? newId++ : corpus.itemIds()[row];
          client.send(itemTopic, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(target)
              .setEmbedding(v).setUpdatedAtMillis(System.currentTimeMillis()).build());
          long best = bestItem.get();
          if (System.nanoTime() >= nextProbe && best >= 0) {
            nextProbe += probeEvery;
            Integer bestRow = rowOf.get(best);
            if (bestRow != null) {
              List<Float> clone = new ArrayList<>(d);
              for (int j = 0; j < d; j++) {
                clone.add(emb[bestRow * d + j]);
              }
              long id = probeId++;
              probeSentAt.put(id, System.nanoTime());
              client.send(itemTopic, dev.nann.schemas.ItemEmbedding.newBuilder().setItemId(id).setEmbedding(clone)
                  .setUpdatedAtMillis(System.currentTimeMillis()).build());
            }
          }
        }
        client.flush();
      }, "bench-upserts");
      Thread requester = new Thread(() -> {
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(13);
        long interval = (long) (1e9 / rate);
        for (long i = 0; System.nanoTime() < end; i++) {
          Pacing.parkUntil(start + i * interval);
          // every other request asks for the probe user, so appearances are seen within ~2 intervals
          long user = i % 2 == 0 ? probeUser : rnd.nextInt(corpus.users().size());
          RetrievalRequest r = ServingClient.request(user, k, "nann");
          // timed from when it was due: a sender held back (a collection, a build on both cores) must not hide the wait
          sentAt.put(r.getRequestId(), start + i * interval);
          requestsSent.incrementAndGet();
          client.send(r);
        }
        client.flush();
      }, "bench-requests");
      try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
        upserter.start();
        requester.start();
        long lastVersion = -1;
        while (System.nanoTime() < end + 5_000_000_000L) {
          for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(5))) {
            long now = System.nanoTime();
            RetrievalResponse resp = client.decode(rec);
            Long t0 = sentAt.remove(resp.getRequestId());
            if (t0 == null) {
              continue;
            }
            answered.add(new long[] {t0, (now - t0) / 1000, resp.getIndexVersion(),
                (long) (resp.getEngineMillis() * 1000)});
            if (resp.getIndexVersion() > lastVersion) {
              if (lastVersion >= 0) {
                swaps.add(now);
              }
              lastVersion = resp.getIndexVersion();
            }
            if (resp.getUserId() == probeUser && !resp.getItems().isEmpty()) {
              long first = resp.getItems().get(0);
              if (first < probeBase) {   // a catalogue item, not a probe or a new item
                bestItem.set(first);
              }
              for (long id : resp.getItems()) {
                Long sent = probeSentAt.get(id);
                if (sent != null) {
                  probeSeenAfter.putIfAbsent(id, now - sent);
                }
              }
            }
          }
        }
        upserter.join();
        requester.join();
      }
      LatencyStats appear = new LatencyStats();
      int probes = 0;
      int unseen = 0;
      for (Map.Entry<Long, Long> e : probeSentAt.entrySet()) {
        if (e.getValue() > end - 3_000_000_000L) {
          continue;   // sent too close to the end to be judged
        }
        probes++;
        Long seen = probeSeenAfter.get(e.getKey());
        if (seen == null) {
          unseen++;
        } else {
          appear.add(seen / 1e6f);
        }
      }
      LatencyStats steady = new LatencyStats();
      LatencyStats duringSwap = new LatencyStats();
      for (long[] a : answered) {
        boolean near = false;
        for (long sw : swaps) {
          near |= a[0] >= sw - 2_000_000_000L && a[0] <= sw + 1_000_000_000L;
        }
        (near ? duringSwap : steady).add(a[1] / 1000f);
      }
      // a timeline in 5 s windows of send time, so stalls can be lined up with builds and swaps in the logs
      long window = 5_000_000_000L;
      for (long w = start; w < end; w += window) {
        LatencyStats in = new LatencyStats();
        LatencyStats engine = new LatencyStats();
        long version = -1;
        for (long[] a : answered) {
          if (a[0] >= w && a[0] < w + window) {
            in.add(a[1] / 1000f);
            engine.add(a[3] / 1000f);
            version = Math.max(version, a[2]);
          }
        }
        if (in.count() > 0) {
          System.err.printf(Locale.ROOT, "[bench] t=%3ds  answered %4d  p50 %8.1f  p99 %8.1f ms  (engine p50 %6.1f ms)"
                  + "  index v%d%n", (w - start) / 1_000_000_000L, in.count(), in.quantile(0.5), in.quantile(0.99),
              engine.quantile(0.5), version);
        }
      }
      String line = JsonLines.line(JsonLines.object().put("bench", "freshness").put("items", catalog.items).put("dim", d)
          .put("upserts_per_s", upsertsPerSecond).put("requests_per_s", round(rate, 0))
          .put("rebuild_min_changes", rebuildMinChanges).put("move_in_place", round(moveInPlace, 2))
          .put("new_item_share", round(newItemShare, 2)).put("seconds", seconds).put("probes", probes).put("unseen", unseen)
          .put("appear_p50_ms", round(appear.quantile(0.5), 0)).put("appear_p99_ms", round(appear.quantile(0.99), 0))
          .put("swaps", swaps.size()).put("steady_p99_ms", round(steady.quantile(0.99), 1))
          .put("swap_p99_ms", round(duringSwap.quantile(0.99), 1))
          .put("swap_ratio_p99", round(duringSwap.quantile(0.99) / Math.max(1e-3, steady.quantile(0.99)), 2))
          .put("sent", requestsSent.get()).put("answered", answered.size()).put("unanswered", sentAt.size()));
      if (!sentAt.isEmpty()) {
        // latencies above cover answered requests only: these would have been the slowest
        System.err.printf(Locale.ROOT, "[bench] %d of %d requests were not answered within 5 s of the end: the "
            + "latencies leave them out%n", sentAt.size(), requestsSent.get());
      }
      System.out.println(line);
      JsonLines.append(load.json, List.of(line));
    }
    return 0;
  }
}
