package dev.nann.cluster;

import dev.nann.jobs.ServingOptions;
import dev.nann.local.DemoCatalog;
import dev.nann.local.LatencyStats;
import dev.nann.local.ServingClient;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.RetrievalResponse;
import dev.nann.schemas.UserEvent;
import dev.nann.schemas.codec.AvroCodec;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.SortedMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * Failure injection against real processes: starts a {@link LocalCluster}, deploys both jobs from
 * the job jar, replays user behaviour, then sends requests open-loop at a fixed rate while faults
 * strike at evenly spaced moments: {@code kill -9} of a TaskManager running serving (a new one
 * started at once, as a supervisor would), a broker stop and restart, index-sync killed right after
 * it published a snapshot, serving restarted when its newest snapshot no longer loads. A {@code
 * read_committed} consumer counts every answer per request: answered, duplicates, lost, the time to
 * the first answer after each fault, and the candidate feed.
 */
public final class ChaosRun {
  /**
   * @param rate requests per second, open loop
   * @param extraItems synthetic items added to the demo catalogue (a larger snapshot)
   * @param transactionTimeoutMs the serving sinks' {@code kafka.transaction-timeout-ms}; 0: the job's default
   * @param triggerEvery one trigger event (a candidate feed push) per this many requests; 0: none
   * @param drainSeconds after the last request, how long to wait without a new answer before the rest count as lost
   */
  public record Options(Path home, int requests, double rate, int tmKills, int brokerRestarts, boolean indexSyncKill,
                        boolean brokenSnapshot, int commitWindowKills, boolean timeoutRestore,
                        int transactionTimeoutMs, String delivery, int extraItems, int users, int eventsPerUser, int triggerEvery,
                        int checkpointIntervalMs, int taskManagers, int parallelism, int drainSeconds, boolean keep) {
  }

  /**
   * What one fault did: when (seconds into the load), to what; {@code recoveryS} until the first
   * answer to a request sent after the fault, how many answers (to earlier requests) arrived before
   * that one, and {@code promptAgainS} until answers were prompt again (the backlog cleared).
   */
  public record FaultResult(Fault fault, double atS, String target, double recoveryS, double promptAgainS,
                            int answersDuringRecovery, String note) {
  }

  /** A run's figures. */
  public record Summary(int sent, int answered, long duplicates, int lost, int tmKills, int brokerRestarts,
                        List<FaultResult> faults, String delivery, int feedTriggers, long feedDelivered,
                        SortedMap<String, Integer> statuses, double p50Ms, double p99Ms, int indexVersionsReused,
                        int servingFailovers, int faultsPlanned) {
    public double recoveryP50() {
      double[] r = faults.stream().mapToDouble(FaultResult::recoveryS).filter(x -> !Double.isNaN(x)).sorted().toArray();
      return r.length == 0 ? Double.NaN : r[(r.length - 1) / 2];
    }
  }

  private static final AvroCodec<RetrievalResponse> RESPONSES = AvroCodec.of(RetrievalResponse.class);
  private static final AvroCodec<IndexDescriptor> DESCRIPTORS = AvroCodec.of(IndexDescriptor.class);
  private static final String ID_PREFIX = "chaos-";

  private final Options o;
  private final PrintStream log;
  private final LocalCluster cluster;
  private final ClusterDeployment deployment;
  private final DemoCatalog catalog;
  private final ServingClient client;
  private final AnswerLedger ledger;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final AtomicLong feedDelivered = new AtomicLong();
  private final AtomicLong newestAnsweredVersion = new AtomicLong(-1);
  /** Every index descriptor seen: version to the SHA-256s published under it. */
  private final Map<Long, Set<String>> published = new ConcurrentHashMap<>();
  private final Random random = new Random(7);
  private long loadStart;

  private ChaosRun(Options o, PrintStream log, LocalCluster cluster, ClusterDeployment deployment, DemoCatalog catalog) {
    this.o = o;
    this.log = log;
    this.cluster = cluster;
    this.deployment = deployment;
    this.catalog = catalog;
    this.client = new ServingClient(cluster.bootstrapServers(), deployment.serving().get(ServingOptions.TOPIC_REQUESTS),
        deployment.serving().get(ServingOptions.TOPIC_RESPONSES), deployment.serving().get(ServingOptions.TOPIC_USER_EVENTS));
    this.ledger = new AnswerLedger(o.requests());
  }

  /**
   * Runs the whole scenario and stops the cluster at the end (unless {@code o.keep()}).
   *
   * @param repo the repository (demo catalog and model)
   * @param flinkLib Flink's jars; {@code kafkaClasspath} the broker's; {@code jobJar} what is deployed
   */
  public static Summary run(Options o, Path repo, Path flinkLib, String kafkaClasspath, Path jobJar, PrintStream log)
      throws Exception {
    LocalCluster cluster = LocalCluster.start(new ClusterHome(o.home()), flinkLib, kafkaClasspath,
        new LocalCluster.Settings(o.taskManagers(), 2, "2g", "1g", "512m"), log);
    try {
      DemoCatalog catalog = DemoCatalog.load(repo.resolve("demo"), 16).padded(o.extraItems(), 11);
      String ckpt = Integer.toString(o.checkpointIntervalMs());
      Map<String, String> serving = new java.util.HashMap<>(Map.of("kafka.delivery", o.delivery(),
          "checkpoint.interval-ms", ckpt));
      if (o.transactionTimeoutMs() > 0) {
        serving.put("kafka.transaction-timeout-ms", Integer.toString(o.transactionTimeoutMs()));
      }
      ClusterDeployment d = ClusterDeployment.deploy(cluster, jobJar, repo.resolve("demo/model"), catalog.dim(),
          o.parallelism(), serving,
          Map.of("rebuild.min-changes", Integer.toString(catalog.ids().length), "rebuild.max-interval-ms", "3000",
              "checkpoint.interval-ms", ckpt), log);
      ChaosRun run = new ChaosRun(o, log, cluster, d, catalog);
      try {
        return run.execute();
      } finally {
        run.client.close();
      }
    } finally {
      if (!o.keep()) {
        cluster.stop();
      }
    }
  }

  private Summary execute() throws Exception {
    String itemsTopic = deployment.serving().get(ServingOptions.TOPIC_ITEM_EMBEDDINGS);
    client.sendCatalog(itemsTopic, catalog.ids(), catalog.embeddings(), catalog.dim());
    IndexDescriptor first = client.awaitIndex(deployment.serving().get(ServingOptions.TOPIC_INDEX_UPDATES),
        catalog.ids().length, Duration.ofMinutes(5));
    log.printf("[chaos] snapshot v%d of %,d items published by index-sync on the cluster%n", first.getVersion(), first.getItems());
    long events = sendBehaviour();
    log.printf("[chaos] %,d users' behaviour sent (%,d events)%n", o.users(), events);
    KafkaConsumer<byte[], byte[]> responses = client.responsesFromNow();
    client.awaitServing(responses, 0, Duration.ofMinutes(3));
    List<Thread> readers = List.of(
        reader("responses", responses, this::onResponse),
        reader("candidates", client.fromNow(deployment.serving().get(ServingOptions.TOPIC_CANDIDATES)),
            r -> feedDelivered.incrementAndGet()),
        reader("index-updates", client.fromStart(deployment.serving().get(ServingOptions.TOPIC_INDEX_UPDATES)),
            this::onDescriptor));
    readers.forEach(Thread::start);

    List<Fault> plan = plan();
    List<FaultResult> results = new ArrayList<>();
    List<Long> faultTimes = new ArrayList<>();
    double seconds = o.requests() / o.rate();
    log.printf("[chaos] %,d requests at %.0f/s (%.0f s), %s delivery, faults: %s%n", o.requests(), o.rate(), seconds,
        o.delivery(), plan);
    Thread faults = new Thread(() -> injectAll(plan, seconds, results, faultTimes), "chaos-faults");
    loadStart = System.nanoTime();
    faults.start();
    int triggers = sendLoad();
    faults.join();
    awaitAnswers();
    long end = System.nanoTime();
    stopping.set(true);
    for (Thread t : readers) {
      t.join();
    }
    List<FaultResult> measured = new ArrayList<>();
    // slow = twice the p90 of the steady time before the first fault (its first 5 s are warm-up)
    long slow = ledger.slowNanos(loadStart + 5_000_000_000L, faultTimes.isEmpty() ? end : faultTimes.get(0));
    for (int i = 0; i < results.size(); i++) {
      FaultResult f = results.get(i);
      long at = faultTimes.get(i);
      long windowEnd = Math.min(i + 1 < faultTimes.size() ? faultTimes.get(i + 1) : Long.MAX_VALUE,
          at + 120_000_000_000L);
      double firstAnswer = ledger.recoverySeconds(at);
      String note = f.fault() == Fault.BROKEN_SNAPSHOT
          ? f.note() + "; index versions answered after: " + ledger.versionsSentAfter(at) : f.note();
      measured.add(new FaultResult(f.fault(), f.atS(), f.target(), firstAnswer, ledger.backlogClearedSeconds(at, windowEnd, slow),
          Double.isNaN(firstAnswer) ? 0 : ledger.answersBetween(at, at + (long) (firstAnswer * 1e9)), note));
    }
    ledger.unansweredSent(loadStart).ifPresent(r -> log.printf(
        "[chaos] the unanswered requests were sent between %.1f s and %.1f s%n", r[0], r[1]));
    LatencyStats lat = ledger.latencies();
    int reused = (int) published.values().stream().filter(s -> s.size() > 1).count();
    return new Summary(ledger.sent(), ledger.answeredDistinct(), ledger.duplicates(),
        ledger.sent() - ledger.answeredDistinct(), count(measured, Fault.TASK_MANAGER_KILL),
        count(measured, Fault.BROKER_RESTART),
        measured, o.delivery(), triggers, feedDelivered.get(), ledger.statuses(), lat.quantile(0.5), lat.quantile(0.99),
        reused, cluster.rest().failovers(deployment.servingJob()), plan.size());
  }

  /** Faults in the order they strike: kills and broker restarts interleaved, then the index faults. */
  private List<Fault> plan() {
    List<Fault> plan = new ArrayList<>();
    for (int i = 0; i < Math.max(o.tmKills(), o.brokerRestarts()); i++) {
      if (i < o.tmKills()) {
        plan.add(Fault.TASK_MANAGER_KILL);
      }
      if (i < o.brokerRestarts()) {
        plan.add(Fault.BROKER_RESTART);
      }
    }
    if (o.indexSyncKill()) {
      plan.add(plan.size() / 2, Fault.INDEX_SYNC_KILL);
    }
    if (o.brokenSnapshot()) {
      plan.add(Fault.BROKEN_SNAPSHOT);
    }
    for (int i = 0; i < o.commitWindowKills(); i++) {
      plan.add(Fault.COMMIT_WINDOW_KILL);
    }
    if (o.timeoutRestore()) {
      plan.add(Fault.TIMEOUT_RESTORE);
    }
    return plan;
  }

  private void injectAll(List<Fault> plan, double seconds, List<FaultResult> results, List<Long> times) {
    FaultInjector injector = new FaultInjector(cluster, deployment, observations());
    for (int i = 0; i < plan.size(); i++) {
      long due = loadStart + (long) (seconds * (i + 1) / (plan.size() + 1) * 1e9);
      try {
        sleepUntil(due);
        FaultInjector.Injected in = injector.inject(plan.get(i));
        FaultResult r = new FaultResult(plan.get(i), (in.atNanos() - loadStart) / 1e9, in.target(), Double.NaN,
            Double.NaN, 0, in.note());
        synchronized (results) {
          results.add(r);
          times.add(in.atNanos());
        }
        log.printf("[chaos] %5.0f s  %s %s%s%n", r.atS(), r.fault(), r.target(), r.note().isEmpty() ? "" : " (" + r.note() + ")");
      } catch (Exception e) {
        log.printf("[chaos] fault %s could not be injected: %s%n", plan.get(i), e);
      }
    }
  }

  private FaultInjector.Observations observations() {
    return new FaultInjector.Observations() {
      @Override
      public long newestPublished() {
        return published.keySet().stream().mapToLong(Long::longValue).max().orElse(-1);
      }

      @Override
      public long newestAnswered() {
        return newestAnsweredVersion.get();
      }

      @Override
      public void changeCatalog(int items) {
        sendCatalogChanges(items);
      }
    };
  }

  /** Open loop: request i leaves at start + i / rate whatever happened to earlier ones. */
  private int sendLoad() throws InterruptedException {
    int triggers = 0;
    long interval = (long) (1e9 / o.rate());
    for (int i = 0; i < o.requests(); i++) {
      sleepUntil(loadStart + i * interval);
      long user = Math.floorMod(i * 7919L, o.users());
      RetrievalRequest r = ServingClient.request(user, 50, "nann");
      r.setRequestId(ID_PREFIX + i);
      ledger.sent(i, System.nanoTime());
      client.send(r);
      if (o.triggerEvery() > 0 && i % o.triggerEvery() == 0) {
        client.send(UserEvent.newBuilder().setUserId(user).setItemId(catalog.ids()[random.nextInt(catalog.ids().length)])
            .setTimestampMillis(System.currentTimeMillis()).setTrigger(true).build());
        triggers++;
      }
      if (i > 0 && i % Math.max(1, (int) (o.rate() * 60)) == 0) {
        log.printf("[chaos] %5.0f s  sent %,d, answered %,d%n", (System.nanoTime() - loadStart) / 1e9, i,
            ledger.answeredDistinct());
      }
    }
    client.flush();
    return triggers;
  }

  /** Waits until every request is answered, or until no new answer came for {@code drainSeconds}. */
  private void awaitAnswers() throws InterruptedException {
    int last = -1;
    long lastProgress = System.nanoTime();
    while (ledger.answeredDistinct() < ledger.sent()) {
      int now = ledger.answeredDistinct();
      if (now != last) {
        last = now;
        lastProgress = System.nanoTime();
      } else if (System.nanoTime() - lastProgress > o.drainSeconds() * 1_000_000_000L) {
        log.printf("[chaos] no answer for %d s: %,d requests unanswered%n", o.drainSeconds(), ledger.sent() - now);
        return;
      }
      Thread.sleep(200);
    }
    Thread.sleep(3000);   // late duplicates still count
  }

  private long sendBehaviour() {
    long t = 1;
    for (int u = 0; u < o.users(); u++) {
      for (int e = 0; e < o.eventsPerUser(); e++) {
        client.send(UserEvent.newBuilder().setUserId(u).setItemId(catalog.ids()[random.nextInt(catalog.ids().length)])
            .setTimestampMillis(t++).build());
      }
    }
    client.flush();
    return t - 1;
  }

  /** Moves {@code n} items a little: index-sync's next rebuild publishes a new snapshot. */
  private void sendCatalogChanges(int n) {
    String topic = deployment.serving().get(ServingOptions.TOPIC_ITEM_EMBEDDINGS);
    int dim = catalog.dim();
    for (int k = 0; k < n; k++) {
      int row = random.nextInt(catalog.ids().length);
      List<Float> v = new ArrayList<>(dim);
      for (int j = 0; j < dim; j++) {
        v.add(catalog.embeddings()[row * dim + j] * (1 + 0.01f * (float) random.nextGaussian()));
      }
      client.send(topic, ItemEmbedding.newBuilder().setItemId(catalog.ids()[row]).setEmbedding(v).build());
    }
    client.flush();
  }

  private void onResponse(ConsumerRecord<byte[], byte[]> r) throws IOException {
    RetrievalResponse resp = RESPONSES.decode(r.value());
    String id = resp.getRequestId();
    if (id.startsWith(ID_PREFIX)) {
      ledger.answered(Integer.parseInt(id.substring(ID_PREFIX.length())), System.nanoTime(), resp.getStatus().name(),
          resp.getIndexVersion());
      newestAnsweredVersion.accumulateAndGet(resp.getIndexVersion(), Math::max);
    }
  }

  private void onDescriptor(ConsumerRecord<byte[], byte[]> r) throws IOException {
    IndexDescriptor d = DESCRIPTORS.decode(r.value());
    published.computeIfAbsent(d.getVersion(), v -> ConcurrentHashMap.newKeySet()).add(d.getSha256());
  }

  private interface RecordHandler {
    void accept(ConsumerRecord<byte[], byte[]> r) throws IOException;
  }

  private Thread reader(String name, KafkaConsumer<byte[], byte[]> consumer, RecordHandler handler) {
    Thread t = new Thread(() -> {
      try (consumer) {
        while (!stopping.get()) {
          for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
            handler.accept(r);
          }
        }
      } catch (IOException e) {
        log.printf("[chaos] reader %s stopped: %s%n", name, e);
      }
    }, "chaos-reader-" + name);
    t.setDaemon(true);
    return t;
  }

  /** Faults of kind {@code f} that were injected. */
  private static int count(List<FaultResult> injected, Fault f) {
    return (int) injected.stream().filter(r -> r.fault() == f).count();
  }

  private static void sleepUntil(long nanos) throws InterruptedException {
    long wait = nanos - System.nanoTime();
    if (wait > 0) {
      Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
    }
  }
}
