package dev.nann.cli;

import dev.nann.jobs.ServingOptions;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.local.LatencyStats;
import dev.nann.local.LocalStack;
import dev.nann.local.ServingClient;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./nann bench serving}: open-loop load against the serving job on this machine (real
 * broker, MiniCluster), at a ladder of request rates, with micro-batching on and off. Reports per
 * rate the achieved throughput, client-observed end-to-end p50/p99, the job's own end-to-end and
 * engine latencies, and their ratio; and the highest rate whose p99 stays within the budget.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmarks (not tests). `bench serving`: requests/s at a p99 latency budget, end-to-end vs engine latency, micro-batching on vs off.")
public final class BenchCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "what to benchmark: serving, or rebuild (full HNSW rebuild vs adding nodes)")
  String what;

  @Option(names = "--upserts-per-s", description = "freshness: catalog upserts per second (default: ${DEFAULT-VALUE})")
  int upsertsPerSecond = 1000;

  @Option(names = "--rebuild-min-changes", description = "freshness: index-sync rebuild.min-changes (default: ${DEFAULT-VALUE})")
  int rebuildMinChanges = 5_000;

  @Option(names = "--move-in-place", description = "freshness: index-sync rebuild.move-in-place-fraction (default: ${DEFAULT-VALUE}; 0 = every update tombstones its node and inserts a new one)")
  double moveInPlace = 0.5;

  @Option(names = "--new-item-share", description = "freshness: share of upserts that add a new item (a perturbed copy of a random item under a new id) instead of updating an existing one (default: ${DEFAULT-VALUE})")
  double newItemShare = 0;

  @Option(names = "--added", description = "rebuild: items added to an existing graph (default: ${DEFAULT-VALUE})")
  int added = 1_000;

  @Option(names = "--dim", description = "rebuild: embedding dimension (default: ${DEFAULT-VALUE})")
  int dim = 64;

  @Option(names = "--items", description = "synthetic catalog size (default: ${DEFAULT-VALUE})")
  int items = 100_000;

  @Option(names = "--users", description = "users with behaviour histories (default: ${DEFAULT-VALUE})")
  int users = 2_000;

  @Option(names = "--model", description = "model directory (default: models/fixtures/attention-d64)")
  Path model;

  @Option(names = "--rates", split = ",", description = "offered requests/s, in order (default: 25,50,100,150,200,300)")
  List<Double> rates = List.of(25.0, 50.0, 100.0, 150.0, 200.0, 300.0);

  @Option(names = "--seconds", description = "seconds per rate (default: ${DEFAULT-VALUE})")
  int seconds = 15;

  @Option(names = "--budget-ms", description = "p99 end-to-end budget (default: ${DEFAULT-VALUE})")
  double budgetMs = 50;

  @Option(names = "--batching", description = "on, off or both (default: ${DEFAULT-VALUE})")
  String batching = "both";

  @Option(names = "--delivery", description = "exactly-once or at-least-once responses (default: ${DEFAULT-VALUE}); "
      + "with exactly-once a read_committed client waits for the checkpoint that commits each answer")
  String delivery = "at-least-once";

  @Option(names = "--k", description = "items per answer (default: ${DEFAULT-VALUE})")
  int k = 200;

  @Option(names = "--set", description = "serving setting KEY=VALUE (repeatable)")
  Map<String, String> settings = Map.of();

  @Option(names = "--json", description = "also append JSON lines to this file")
  Path json;

  @Override
  public Integer call() throws Exception {
    if (what.equals("rebuild")) {
      return rebuild();
    }
    if (what.equals("freshness")) {
      return freshness();
    }
    if (!what.equals("serving")) {
      throw new IllegalArgumentException("unknown benchmark '" + what + "': expected serving or rebuild");
    }
    Path repo = Path.of(System.getProperty("nann.repo", "."));
    Path modelDir = model != null ? model : repo.resolve("models/fixtures/attention-d64");
    int dim = dev.nann.scorer.ModelSpec.read(modelDir).itemDim();
    System.err.printf("[bench] generating %,d items x %d and %,d users%n", items, dim, users);
    Corpus corpus = SyntheticCorpus.generate(items, dim, users, 7);
    List<String> modes = batching.equals("both") ? List.of("on", "off") : List.of(batching);
    List<String> lines = new ArrayList<>();
    for (String mode : modes) {
      Map<String, String> s = new TreeMap<>(settings);
      s.put("batching.enabled", Boolean.toString(mode.equals("on")));
      s.put("kafka.delivery", delivery);
      s.put("async.timeout-ms", "5000");
      try (LocalStack stack = LocalStack.start(repo.resolve(".nann-bench"), modelDir, corpus.itemIds(), corpus.embeddings(),
          dim, s, null, System.err)) {
        warm(stack, corpus);
        double best = 0;
        for (double rate : rates) {
          Step r = step(stack.client, rate, corpus.users().size());
          String line = String.format(Locale.ROOT,
              "{\"bench\":\"serving\",\"items\":%d,\"dim\":%d,\"model\":\"%s\",\"batching\":\"%s\",\"delivery\":\"%s\","
                  + "\"offered_qps\":%.0f,\"qps\":%.1f,\"answered\":%d,\"errors\":%d,\"p50_ms\":%.1f,\"p99_ms\":%.1f,"
                  + "\"job_p50_ms\":%.1f,\"job_p99_ms\":%.1f,\"engine_p50_ms\":%.2f,\"engine_p99_ms\":%.2f,"
                  + "\"e2e_engine_ratio_p50\":%.2f,\"items_scored\":%.0f}",
              items, dim, modelDir.getFileName(), mode, delivery, rate, r.qps, r.answered, r.errors, r.client.quantile(0.5),
              r.client.quantile(0.99), r.job.quantile(0.5), r.job.quantile(0.99), r.engine.quantile(0.5),
              r.engine.quantile(0.99), r.client.quantile(0.5) / Math.max(1e-3, r.engine.quantile(0.5)), r.meanScored);
          System.out.println(line);
          lines.add(line);
          boolean keptUp = r.qps >= 0.95 * rate && r.errors == 0;
          if (keptUp && r.client.quantile(0.99) <= budgetMs) {
            best = rate;
          }
          if (!keptUp || r.client.quantile(0.99) > 4 * budgetMs) {
            System.err.printf("[bench] stopping the ladder at %.0f req/s: %s%n", rate,
                keptUp ? "p99 far over budget" : "the job did not keep up");
            break;
          }
        }
        String summary = String.format(Locale.ROOT, "{\"bench\":\"serving-summary\",\"batching\":\"%s\",\"delivery\":\"%s\","
            + "\"max_qps_within_budget\":%.0f,\"budget_p99_ms\":%.0f}", mode, delivery, best, budgetMs);
        System.out.println(summary);
        lines.add(summary);
      }
    }
    if (json != null) {
      Files.write(json, lines, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }
    return 0;
  }

  /**
   * Freshness under load: the index-sync pipeline rebuilds while catalog upserts stream in at a
   * fixed rate and requests are answered. Probe items (clones of a probe user's best item under new
   * ids) measure upsert to first appearance in an answer; requests sent within 2 s before to 1 s
   * after an index swap are compared with the others.
   */
  private int freshness() throws Exception {
    Path repo = Path.of(System.getProperty("nann.repo", "."));
    Path modelDir = model != null ? model : repo.resolve("models/fixtures/attention-d64");
    int d = dev.nann.scorer.ModelSpec.read(modelDir).itemDim();
    Corpus corpus = SyntheticCorpus.generate(items, d, users, 7);
    Map<String, String> s = new TreeMap<>(settings);
    s.put("kafka.delivery", delivery);
    s.put("async.timeout-ms", "5000");
    if (!(newItemShare >= 0 && newItemShare <= 1)) {
      throw new IllegalArgumentException("--new-item-share must be in [0, 1], got " + newItemShare);
    }
    Map<String, String> sync = Map.of("rebuild.min-changes", Integer.toString(rebuildMinChanges),
        "rebuild.max-interval-ms", "15000", "index.build-threads", "1",
        "rebuild.move-in-place-fraction", Double.toString(moveInPlace));
    double rate = rates.get(0);
    try (LocalStack stack = LocalStack.start(repo.resolve(".nann-bench"), modelDir, corpus.itemIds(), corpus.embeddings(),
        d, s, sync, System.err)) {
      warm(stack, corpus);
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
        long probeId = 10_000_000L;
        long newId = 20_000_000L;   // new items (--new-item-share); below probe ids would be mistaken for probes
        for (long i = 0; System.nanoTime() < end; i++) {
          long due = start + i * interval;
          long wait = due - System.nanoTime();
          if (wait > 0) {
            LockSupport.parkNanos(wait);
          }
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
          long due = start + i * interval;
          long wait = due - System.nanoTime();
          if (wait > 0) {
            LockSupport.parkNanos(wait);
          }
          // every other request asks for the probe user, so appearances are seen within ~2 intervals
          long user = i % 2 == 0 ? probeUser : rnd.nextInt(corpus.users().size());
          RetrievalRequest r = ServingClient.request(user, k, "nann");
          sentAt.put(r.getRequestId(), System.nanoTime());
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
              if (first < 10_000_000L) {
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
      String line = String.format(Locale.ROOT, "{\"bench\":\"freshness\",\"items\":%d,\"dim\":%d,\"upserts_per_s\":%d,"
              + "\"requests_per_s\":%.0f,\"rebuild_min_changes\":%d,\"move_in_place\":%.2f,\"new_item_share\":%.2f,\"seconds\":%d,\"probes\":%d,\"unseen\":%d,"
              + "\"appear_p50_ms\":%.0f,\"appear_p99_ms\":%.0f,\"swaps\":%d,\"steady_p99_ms\":%.1f,\"swap_p99_ms\":%.1f,"
              + "\"swap_ratio_p99\":%.2f,\"answered\":%d}",
          items, d, upsertsPerSecond, rate, rebuildMinChanges, moveInPlace, newItemShare, seconds, probes, unseen, appear.quantile(0.5),
          appear.quantile(0.99), swaps.size(), steady.quantile(0.99), duringSwap.quantile(0.99),
          duringSwap.quantile(0.99) / Math.max(1e-3, steady.quantile(0.99)), answered.size());
      System.out.println(line);
      if (json != null) {
        Files.write(json, List.of(line), java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
      }
    }
    return 0;
  }

  /**
   * Full rebuild of N + K items (what index-sync does) against adding K nodes to a Lucene graph of
   * N already built, plus the snapshot write and verified read that either way needs.
   */
  private int rebuild() throws Exception {
    int n = items;
    int total = n + added;
    System.err.printf("[bench] rebuild: %,d + %,d items x %d%n", n, added, dim);
    Corpus c = SyntheticCorpus.generate(total, dim, 1, 7);
    float[] emb = c.embeddings();
    java.util.List<float[]> vectors = new ArrayList<>(total);
    for (int i = 0; i < total; i++) {
      vectors.add(java.util.Arrays.copyOfRange(emb, i * dim, (i + 1) * dim));
    }
    var scorers = org.apache.lucene.codecs.hnsw.DefaultFlatVectorScorer.INSTANCE.getRandomVectorScorerSupplier(
        org.apache.lucene.index.VectorSimilarityFunction.EUCLIDEAN,
        org.apache.lucene.util.hnsw.RandomAccessVectorValues.fromFloats(vectors, dim));
    var lucene = org.apache.lucene.util.hnsw.HnswGraphBuilder.create(scorers, 32, 40, 1, total);
    long t0 = System.nanoTime();
    lucene.build(n);
    double baseS = (System.nanoTime() - t0) / 1e9;
    t0 = System.nanoTime();
    for (int i = n; i < total; i++) {
      lucene.addGraphNode(i);
    }
    double addS = (System.nanoTime() - t0) / 1e9;
    String line1 = String.format(Locale.ROOT, "{\"bench\":\"rebuild\",\"what\":\"lucene-add\",\"items\":%d,\"added\":%d,"
        + "\"dim\":%d,\"threads\":1,\"base_build_s\":%.2f,\"add_s\":%.3f,\"add_per_item_ms\":%.3f}",
        n, added, dim, baseS, addS, addS * 1000 / added);
    System.out.println(line1);
    List<String> lines = new ArrayList<>(List.of(line1));
    Path tmp = Files.createTempDirectory("nann-rebuild");
    for (int threads : new int[] {1, 2}) {
      t0 = System.nanoTime();
      dev.nann.graph.HnswIndex built = new dev.nann.graph.HnswIndexBuilder().m(32).efConstruction(40).threads(threads)
          .seed(1).version(1).build(emb, dim, c.itemIds());
      double buildS = (System.nanoTime() - t0) / 1e9;
      t0 = System.nanoTime();
      Path f = tmp.resolve("index-" + threads + ".nann");
      dev.nann.graph.SnapshotFormat.write(built, f);
      dev.nann.graph.SnapshotFormat.read(f).onHeap();
      double writeS = (System.nanoTime() - t0) / 1e9;
      String line = String.format(Locale.ROOT, "{\"bench\":\"rebuild\",\"what\":\"full-rebuild\",\"items\":%d,\"dim\":%d,"
          + "\"threads\":%d,\"build_s\":%.2f,\"snapshot_write_read_s\":%.2f}", total, dim, threads, buildS, writeS);
      System.out.println(line);
      lines.add(line);
      Files.delete(f);
    }
    Files.delete(tmp);
    if (json != null) {
      Files.write(json, lines, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }
    return 0;
  }

  private void warm(LocalStack stack, Corpus corpus) throws Exception {
    long t = 1;
    int sent = 0;
    for (int u = 0; u < corpus.users().size(); u++) {
      for (int row : corpus.users().get(u).behavior()) {
        stack.client.send(UserEvent.newBuilder().setUserId(u).setItemId(corpus.itemIds()[row]).setTimestampMillis(t++).build());
        sent++;
      }
    }
    stack.client.flush();
    System.err.printf("[bench] %,d behaviour events sent; waiting for the job to serve%n", sent);
    try (KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow()) {
      stack.client.awaitServing(responses, 0, Duration.ofMinutes(3));
    }
    // warm-up load so the JIT, RocksDB and the runtime are settled before measuring
    System.err.println("[bench] warm-up: 20 s at the first rate (not reported)");
    step(stack.client, rates.get(0), corpus.users().size(), 20);
  }

  private record Step(double qps, int answered, int errors, LatencyStats client, LatencyStats job, LatencyStats engine,
                      double meanScored) {
  }

  private Step step(ServingClient client, double rate, int userCount) throws Exception {
    return step(client, rate, userCount, seconds);
  }

  private Step step(ServingClient client, double rate, int userCount, int secs) throws Exception {
    ConcurrentHashMap<String, Long> sentAt = new ConcurrentHashMap<>();
    int total = (int) Math.round(rate * secs);
    LatencyStats clientLat = new LatencyStats();
    LatencyStats jobLat = new LatencyStats();
    LatencyStats engineLat = new LatencyStats();
    try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
      Thread sender = new Thread(() -> {
        long start = System.nanoTime();
        long interval = (long) (1e9 / rate);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(total);
        for (int i = 0; i < total; i++) {
          long due = start + i * interval;
          long wait = due - System.nanoTime();
          if (wait > 0) {
            LockSupport.parkNanos(wait);
          }
          RetrievalRequest r = ServingClient.request(rnd.nextInt(userCount), k, "nann");
          sentAt.put(r.getRequestId(), System.nanoTime());
          client.send(r);
        }
        client.flush();
      }, "bench-sender");
      long start = System.nanoTime();
      sender.start();
      int answered = 0;
      int errors = 0;
      double scored = 0;
      long last = start;
      long deadline = start + (secs + 10) * 1_000_000_000L;
      while (answered < total && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(5))) {
          long now = System.nanoTime();
          RetrievalResponse resp = client.decode(rec);
          Long t0 = sentAt.remove(resp.getRequestId());
          if (t0 == null) {
            continue;
          }
          answered++;
          last = now;
          if (resp.getStatus() != ResponseStatus.OK && resp.getStatus() != ResponseStatus.COLD_START) {
            errors++;
            continue;
          }
          clientLat.add((now - t0) / 1e6f);
          jobLat.add(resp.getLatencyMillis());
          engineLat.add(resp.getEngineMillis());
          scored += resp.getItemsScored();
        }
      }
      sender.join();
      double qps = answered / Math.max(1e-9, (last - start) / 1e9);
      PrintStream err = System.err;
      err.printf(Locale.ROOT, "[bench] %6.0f req/s offered: %6.1f answered/s  p50 %6.1f  p99 %6.1f ms  (job p99 %.1f, engine p50 %.2f ms)%n",
          rate, qps, clientLat.quantile(0.5), clientLat.quantile(0.99), jobLat.quantile(0.99), engineLat.quantile(0.5));
      return new Step(qps, answered, errors + (total - answered), clientLat, jobLat, engineLat,
          answered == 0 ? 0 : scored / Math.max(1, answered - errors));
    }
  }
}
