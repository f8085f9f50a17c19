package dev.nann.cli.bench;

import static dev.nann.cli.JsonLines.round;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.nann.cli.ClusterCommand;
import dev.nann.cli.JsonLines;
import dev.nann.cluster.ClusterDeployment;
import dev.nann.cluster.ClusterHome;
import dev.nann.cluster.LocalCluster;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.indexsync.ShardedBulkLoad;
import dev.nann.jobs.ServingOptions;
import dev.nann.local.ServingClient;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.scorer.ModelSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench shards}: a catalogue served as S shards on the multi-process cluster, end to
 * end over Kafka. Builds the shards into the cluster's snapshot store (bulk load: build time per
 * shard), deploys the job jar with {@code index.shards = S}, publishes the manifest, then measures
 * open-loop latency and throughput, and coverage@k of the served walk against the exact top-k over
 * the whole catalogue (mode brute, answered by the same cluster: each shard's exact top-k, merged),
 * and the peak memory of every TaskManager process.
 */
@Command(name = "shards", mixinStandardHelpOptions = true,
    description = "A sharded catalogue on the local multi-process cluster: build per shard, coverage against exact, "
        + "QPS, p99 and memory per TaskManager.")
public final class ShardsBench implements Callable<Integer> {
  @Option(names = "--items", description = "catalogue size (default: ${DEFAULT-VALUE})")
  int items = 1_000_000;

  @Option(names = "--nested", description = "the nested synthetic corpus (clusters grouped into categories), as "
      + "./nann eval --corpus synthetic-nested:N")
  boolean nested;

  @Option(names = "--model", description = "model directory (default: models/fixtures/attention-d64)")
  Path model;

  @Option(names = "--shards", description = "S (default: ${DEFAULT-VALUE})")
  int shards = 4;

  @Option(names = "--task-managers", description = "TaskManager processes (default: ${DEFAULT-VALUE})")
  int taskManagers = 2;

  @Option(names = "--tm-memory", description = "each TaskManager's process memory (default: ${DEFAULT-VALUE})")
  String tmMemory = "4g";

  @Option(names = "--parallelism", description = "the serving job's parallelism (default: ${DEFAULT-VALUE})")
  int parallelism = 2;

  @Option(names = "--m", description = "HNSW M (default: ${DEFAULT-VALUE})")
  int m = 32;

  @Option(names = "--ef-construction", description = "HNSW efConstruction (default: ${DEFAULT-VALUE})")
  int efConstruction = 40;

  @Option(names = "--build-threads", description = "builder threads per shard (default: ${DEFAULT-VALUE})")
  int buildThreads = 2;

  @Option(names = "--queries", description = "users whose answers are checked against the exact top-k (default: ${DEFAULT-VALUE})")
  int queries = 50;

  /**
   * Requests before the coverage answers: past the 64 walks of the descent choice on every TaskManager
   * (each request walks every shard, so each TaskManager sees at least one walk per request).
   */
  static final int WARM_REQUESTS = 100;

  @Option(names = "--rate", description = "offered requests/s of the latency step (default: ${DEFAULT-VALUE})")
  double rate = 10;

  @Option(names = "--seconds", description = "seconds of the latency step (default: ${DEFAULT-VALUE})")
  int seconds = 30;

  @Option(names = "--k", description = "items per answer (default: ${DEFAULT-VALUE})")
  int k = 200;

  @Option(names = "--set", description = "a serving setting KEY=VALUE (repeatable), e.g. search.width=800")
  Map<String, String> settings = new HashMap<>();

  @Option(names = "--home", description = "the cluster's directory (default: <repo>/.nann-shards)")
  Path home;

  @Option(names = "--cache", description = "keeps each build (shard files, manifest) and its exact answers here, "
      + "keyed by corpus, S, M and efConstruction (exact answers also by the model), and reuses them (default: <repo>/.nann-cache/bulk)")
  Path cache;

  @Option(names = "--no-cache", description = "build afresh and keep nothing")
  boolean noCache;

  @Option(names = "--keep", description = "leave the cluster running at the end")
  boolean keep;

  @Option(names = "--json", description = "also append the summary as a JSON line to this file")
  Path json;

  @Override
  public Integer call() throws Exception {
    Path repo = ClusterCommand.Home.repo();
    Path modelDir = model != null ? model : repo.resolve("models/fixtures/attention-d64");
    int dim = ModelSpec.read(modelDir).itemDim();
    long t0 = System.nanoTime();
    Corpus corpus = SyntheticCorpus.generate(items, dim, Math.max(queries, 1), 7, 8, nested);
    System.err.printf("[shards] %,d items x %d and %,d users generated in %.1f s%n", items, dim, corpus.users().size(),
        (System.nanoTime() - t0) / 1e9);
    LocalCluster cluster = LocalCluster.start(new ClusterHome(home != null ? home : repo.resolve(".nann-shards")),
        ClusterCommand.Home.flinkLib(), System.getProperty("java.class.path"),
        new LocalCluster.Settings(taskManagers, 2, tmMemory, "1g", "512m"), System.err);
    try {
      // with S = 1 the bulk load publishes one unsharded snapshot: the baseline beside a sharded run
      BulkLoadCache built = new BulkLoadCache(noCache ? null : cache != null ? cache : repo.resolve(".nann-cache/bulk"),
          corpus.name().replace(':', '_') + "-s" + shards + "-m" + m + "-efc" + efConstruction);
      ShardedBulkLoad.Result load = built.load(cluster.home().snapshots(), () -> ShardedBulkLoad.publish(
          cluster.home().snapshots(), 1, corpus.itemIds(), corpus.embeddings(), dim, shards, m, efConstruction,
          buildThreads, System.err), System.err);
      System.gc();   // the build's garbage goes before the TaskManagers load the shards on this machine
      Map<String, String> serving = new HashMap<>(Map.of("index.shards", Integer.toString(shards),
          "search.allow-brute", "true", "async.timeout-ms", "600000", "kafka.delivery", "at-least-once"));
      serving.putAll(settings);
      ClusterDeployment d = ClusterDeployment.deploy(cluster, ClusterCommand.Home.jobJar(), modelDir, dim, parallelism,
          serving, Map.of("index.shards", Integer.toString(shards)), System.err);
      try (ServingClient client = new ServingClient(cluster.bootstrapServers(),
          d.serving().get(ServingOptions.TOPIC_REQUESTS), d.serving().get(ServingOptions.TOPIC_RESPONSES),
          d.serving().get(ServingOptions.TOPIC_USER_EVENTS))) {
        int events = client.replayBehaviour(corpus);
        client.publish(d.serving().get(ServingOptions.TOPIC_INDEX_UPDATES), load.descriptor());
        long served = System.nanoTime();
        try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
          client.awaitServing(responses, 0, Duration.ofMinutes(20));
        }
        System.err.printf("[shards] %,d behaviour events sent; first answer %.1f s after the manifest (shards loaded)%n",
            events, (System.nanoTime() - served) / 1e9);
        // warm before the coverage answers: with search.descent=auto each TaskManager's first 64 walks of a
        // model compare both descents at width 2k on half the budget each, not the walk the settings give
        System.err.printf("[shards] warm-up: %d requests at %.1f/s (the descent choice's first walks, the JIT)%n",
            WARM_REQUESTS, rate);
        LoadDriver.step(client, rate, corpus.users().size(), (int) Math.max(10, Math.ceil(WARM_REQUESTS / rate)), k);
        Map<Integer, RetrievalResponse> walked = answers(client, "nann", Duration.ofMinutes(5));
        System.err.println("[shards] latency step");
        LoadDriver.Step step = LoadDriver.step(client, rate, corpus.users().size(), seconds, k);
        // the exact answers are the model's: another model over the same build computes its own
        String exactName = "q" + queries + "-k" + k + "-model-" + modelDigest(modelDir);
        boolean exactCached = built.hasExact(exactName);
        System.err.printf("[shards] exact top-%d of %d users over all %,d items (mode brute, every shard)%s%n", k,
            queries, items, exactCached ? ": from the cache" : "");
        long te = System.nanoTime();
        Map<Integer, List<Long>> exact = built.exact(exactName, () -> exactItems(client));
        double exactSeconds = (System.nanoTime() - te) / 1e9;
        double coverage = 0;
        int partial = 0;
        for (int u = 0; u < queries; u++) {
          RetrievalResponse w = walked.get(u);
          partial += w.getStatus() == ResponseStatus.PARTIAL ? 1 : 0;
          Set<Long> best = new HashSet<>(exact.get(u));
          coverage += w.getItems().stream().filter(best::contains).count() / (double) Math.max(1, best.size());
        }
        coverage /= queries;
        double scored = walked.values().stream().mapToInt(RetrievalResponse::getItemsScored).average().orElse(0);
        ObjectNode line = JsonLines.object().put("bench", "shards").put("items", items).put("dim", dim)
            .put("corpus", nested ? "synthetic-nested" : "synthetic").put("model", modelDir.getFileName().toString())
            .put("shards", shards).put("task_managers", taskManagers).put("parallelism", parallelism).put("m", m)
            .put("ef_construction", efConstruction).put("k", k).put("queries", queries)
            .put("coverage_at_k", round(coverage, 4)).put("partial_answers", partial)
            .put("items_scored", round(scored, 0)).put("scored_fraction", round(scored / items, 5))
            .put("offered_qps", round(rate, 1)).put("qps", round(step.qps(), 1)).put("errors", step.errors()).put("lost", step.lost())
            .put("p50_ms", round(step.client().quantile(0.5), 1)).put("p99_ms", round(step.client().quantile(0.99), 1))
            .put("engine_p50_ms", round(step.engine().quantile(0.5), 1))
            .put("width", d.serving().get(ServingOptions.WIDTH))
            .put("budget", d.serving().get(ServingOptions.BUDGET))
            .put("exact_seconds_per_query", exactCached ? null : round(exactSeconds / queries, 2))
            .put("build_seconds_total", round(java.util.Arrays.stream(load.buildSeconds()).sum(), 1));
        var perShard = line.putArray("build_seconds_per_shard");
        for (double s : load.buildSeconds()) {
          perShard.add(round(s, 1));
        }
        var memory = line.putObject("taskmanager_peak_rss_mb");
        for (String tm : cluster.taskManagers()) {
          cluster.process(tm).ifPresent(p -> memory.put(tm, peakRssMb(p.pid())));
        }
        System.out.println(JsonLines.line(line));
        JsonLines.append(json, List.of(JsonLines.line(line)));
      }
    } finally {
      if (!keep) {
        cluster.stop();
      }
    }
    return 0;
  }

  /** The model directory's files, each as the first 12 hex digits of its SHA-256, in name order. */
  static String modelDigest(Path modelDir) throws java.io.IOException {
    try (var files = Files.list(modelDir)) {
      return files.filter(Files::isRegularFile).sorted().map(f -> ModelSpec.sha256(f).substring(0, 12))
          .collect(java.util.stream.Collectors.joining("-"));
    }
  }

  /** The exact top-k item ids of every checked user, answered by the cluster in mode brute. */
  private Map<Integer, List<Long>> exactItems(ServingClient client) {
    Map<Integer, RetrievalResponse> exact;
    try {
      exact = answers(client, "brute", Duration.ofMinutes(60));
    } catch (Exception e) {
      throw new IllegalStateException("exact answers: " + e.getMessage(), e);
    }
    Map<Integer, List<Long>> out = new HashMap<>();
    exact.forEach((u, e) -> {
      if (e.getStatus() != ResponseStatus.OK && e.getStatus() != ResponseStatus.COLD_START) {
        throw new IllegalStateException("no exact answer for user " + u + ": " + e.getStatus() + " " + e.getDetail());
      }
      out.put(u, e.getItems());
    });
    return out;
  }

  /** One request per checked user in {@code mode}, answered (any status) within {@code timeout}. */
  private Map<Integer, RetrievalResponse> answers(ServingClient client, String mode, Duration timeout) throws Exception {
    Map<String, Integer> users = new HashMap<>();
    Map<Integer, RetrievalResponse> out = new HashMap<>();
    try (KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow()) {
      for (int u = 0; u < queries; u++) {
        RetrievalRequest r = ServingClient.request(u, k, mode);
        users.put(r.getRequestId(), u);
        client.send(r);
      }
      client.flush();
      long end = System.nanoTime() + timeout.toNanos();
      while (out.size() < queries && System.nanoTime() < end) {
        for (ConsumerRecord<byte[], byte[]> rec : responses.poll(Duration.ofMillis(500))) {
          RetrievalResponse resp = client.decode(rec);
          Integer u = users.get(resp.getRequestId());
          if (u != null) {
            out.put(u, resp);
          }
        }
      }
    }
    if (out.size() < queries) {
      throw new IllegalStateException(out.size() + " of " + queries + " " + mode + " requests answered within "
          + timeout.toMinutes() + " min");
    }
    return out;
  }

  /** Peak resident memory of a process (Linux: VmHWM in /proc/PID/status), in MiB; -1 when unknown. */
  static long peakRssMb(long pid) {
    try {
      for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
        if (l.startsWith("VmHWM:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (Exception e) {
      // not Linux, or the process is gone
    }
    return -1;
  }
}
