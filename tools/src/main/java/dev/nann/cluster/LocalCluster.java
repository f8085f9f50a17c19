package dev.nann.cluster;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.io.Writer;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessSpec;
import org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils;
import org.apache.flink.runtime.jobmanager.JobManagerProcessSpec;
import org.apache.flink.runtime.jobmanager.JobManagerProcessUtils;
import org.apache.flink.runtime.util.config.memory.ProcessMemoryUtils;
import org.apache.kafka.clients.admin.Admin;

/**
 * A Flink 2.2 session cluster and a Kafka broker on this machine, each a separate JVM process: one
 * JobManager ({@code StandaloneSessionClusterEntrypoint}, REST API and web UI on localhost), N
 * TaskManagers ({@code TaskManagerRunner}, memory sized by Flink's own rules as {@code
 * taskmanager.sh} would) and one KRaft broker ({@code kafka.Kafka}). Flink's classpath is the
 * {@code flink-cluster} module's {@code target/lib}: Flink's server side from Maven, no nann class.
 *
 * <p>The processes outlive the command that starts them; {@link #attach} finds them again from the
 * home directory. Killing a TaskManager is {@code kill -9}; a new one can be started at any time,
 * as a supervisor would.
 */
public final class LocalCluster {
  /** How to size the cluster. */
  public record Settings(int taskManagers, int slotsPerTaskManager, String taskManagerMemory,
                         String jobManagerMemory, String brokerHeap) {
    /** Two TaskManagers of two slots and 2 GiB each: both jobs at parallelism 2. */
    public static Settings defaults() {
      return new Settings(2, 2, "2g", "1g", "512m");
    }
  }

  /** What a Flink distribution's {@code env.java.default-opts.all} opens on Java 17 (Flink's serializers reflect into the JDK). */
  static final List<String> FLINK_JAVA_OPTS = List.of(
      "--add-exports=java.base/sun.net.util=ALL-UNNAMED", "--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED",
      "--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED",
      "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.net=ALL-UNNAMED",
      "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
      "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
      "--add-opens=java.base/java.text=ALL-UNNAMED", "--add-opens=java.base/java.time=ALL-UNNAMED",
      "--add-opens=java.base/java.util=ALL-UNNAMED", "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED");

  private static final String JOB_MANAGER = "jobmanager";
  private static final String KAFKA = "kafka";
  private static final String TASK_MANAGER = "taskmanager-";

  private final ClusterHome home;
  private final Properties state;

  private LocalCluster(ClusterHome home, Properties state) {
    this.home = home;
    this.state = state;
  }

  /**
   * Empties {@code home} (which must be new, empty, or an earlier cluster's directory that no longer
   * runs), writes the configuration, starts the broker, the JobManager and {@code
   * settings.taskManagers()} TaskManagers, and returns once all are up.
   *
   * @param flinkLib Flink's jars ({@code flink-cluster/target/lib})
   * @param kafkaClasspath the broker's classpath (Kafka's server jars and log4j)
   */
  public static LocalCluster start(ClusterHome home, Path flinkLib, String kafkaClasspath, Settings settings,
                                   PrintStream log) throws Exception {
    if (Files.exists(home.state())) {
      LocalCluster earlier = attach(home);
      if (earlier.running()) {
        throw new IllegalArgumentException("a cluster is already running from " + home.dir() + " (./nann cluster stop first)");
      }
      // its JobManager is gone, but TaskManagers or the broker may live on: stopped now, since the
      // directory with their pid files (and the broker's data) is about to be emptied under them
      Map<String, String> left = earlier.status();
      left.values().removeIf(v -> !v.startsWith("running"));
      if (!left.isEmpty()) {
        log.println("[cluster] stopping what is left of the cluster in " + home.dir() + ": " + left);
        earlier.stop();
      }
    }
    if (!Files.isDirectory(flinkLib) || Files.notExists(flinkLib.resolve("flink-runtime-2.2.1.jar"))) {
      throw new IllegalArgumentException("Flink's jars are not in " + flinkLib
          + "; build them with: mvn -q -DskipTests package -pl flink-cluster");
    }
    if (Files.isDirectory(home.dir()) && Files.notExists(home.state())) {
      try (var entries = Files.list(home.dir())) {
        if (entries.findAny().isPresent()) {
          throw new IllegalArgumentException(home.dir() + " is not empty and holds no nann cluster (no "
              + home.state().getFileName() + "); choose an empty or new directory");
        }
      }
    }
    dev.nann.local.LocalStack.deleteTree(home.dir());
    home.create();
    Properties s = new Properties();
    s.setProperty("flink.lib", flinkLib.toAbsolutePath().normalize().toString());
    s.setProperty("kafka.classpath", kafkaClasspath);
    s.setProperty("rest.port", Integer.toString(freePort()));
    s.setProperty("jobmanager.rpc.port", Integer.toString(freePort()));
    s.setProperty("kafka.port", Integer.toString(freePort()));
    s.setProperty("kafka.controller.port", Integer.toString(freePort()));
    s.setProperty("broker.heap", settings.brokerHeap());
    s.setProperty("taskmanagers.started", "0");
    LocalCluster c = new LocalCluster(home, s);
    c.writeFlinkConfig(settings);
    c.writeKafkaConfig();
    c.save();

    try {
      long t0 = System.nanoTime();
      c.formatKafka();
      c.startBroker();
      log.printf("[cluster] Kafka broker (KRaft, own process) on %s in %.1f s%n", c.bootstrapServers(), secs(t0));
      t0 = System.nanoTime();
      c.startJobManager();
      log.printf("[cluster] JobManager up in %.1f s; web UI and REST API on %s%n", secs(t0), c.webUi());
      t0 = System.nanoTime();
      for (int i = 0; i < settings.taskManagers(); i++) {
        c.startTaskManager();
      }
      c.awaitTaskManagers(settings.taskManagers());
      log.printf("[cluster] %d TaskManagers x %d slots registered in %.1f s; logs in %s%n", settings.taskManagers(),
          settings.slotsPerTaskManager(), secs(t0), home.logs());
      return c;
    } catch (Exception | Error e) {
      // a process that did start (the broker, the JobManager) would outlive this one, and the next
      // start, finding no running JobManager, would empty the directory holding their pids
      try {
        c.stop();
      } catch (Exception stopping) {
        e.addSuppressed(stopping);
      }
      throw e;
    }
  }

  /** The cluster whose state is under {@code home}, running or not. */
  public static LocalCluster attach(ClusterHome home) throws IOException {
    if (Files.notExists(home.state())) {
      throw new IllegalArgumentException("no cluster under " + home.dir() + " (./nann cluster start makes one)");
    }
    Properties s = new Properties();
    try (Reader r = Files.newBufferedReader(home.state())) {
      s.load(r);
    }
    return new LocalCluster(home, s);
  }

  public ClusterHome home() {
    return home;
  }

  public String bootstrapServers() {
    return "localhost:" + state.getProperty("kafka.port");
  }

  /** The web UI and REST API. */
  public String webUi() {
    return "http://localhost:" + state.getProperty("rest.port");
  }

  public FlinkRest rest() {
    return new FlinkRest(webUi());
  }

  /** Flink's classpath (a distribution's lib/). */
  String flinkClasspath() {
    return Path.of(state.getProperty("flink.lib")).resolve("*").toString();
  }

  /** True while the JobManager process runs. */
  public boolean running() {
    return process(JOB_MANAGER).isPresent();
  }

  /** Names of the running TaskManager processes, oldest first. */
  public List<String> taskManagers() throws IOException {
    List<String> names = new ArrayList<>();
    try (var files = Files.list(home.pids())) {
      files.map(p -> p.getFileName().toString().replace(".pid", "")).filter(n -> n.startsWith(TASK_MANAGER))
          .sorted((a, b) -> Integer.compare(tmNumber(a), tmNumber(b)))
          .filter(n -> process(n).isPresent()).forEach(names::add);
    }
    return names;
  }

  /** The pid of a named process of this cluster, if it runs. */
  public Optional<ProcessHandle> process(String name) {
    Path pidFile = home.pids().resolve(name + ".pid");
    try {
      return Files.exists(pidFile) ? ChildJvm.find(Long.parseLong(Files.readString(pidFile).trim()), home.dir().toString())
          : Optional.empty();
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  /**
   * Starts one more TaskManager process (named {@code taskmanager-<n>}, also its Flink resource id);
   * returns its name without waiting for it to register.
   */
  public synchronized String startTaskManager() throws IOException {
    int n = Integer.parseInt(state.getProperty("taskmanagers.started")) + 1;
    state.setProperty("taskmanagers.started", Integer.toString(n));
    save();
    String name = TASK_MANAGER + n;
    Configuration conf = GlobalConfiguration.loadConfiguration(home.conf().toString());
    TaskExecutorProcessSpec spec = TaskExecutorProcessUtils.processSpecFromConfig(conf);
    List<String> jvm = new ArrayList<>(Arrays.asList(ProcessMemoryUtils.generateJvmParametersStr(spec).split(" ")));
    jvm.addAll(logging(name));
    jvm.addAll(FLINK_JAVA_OPTS);
    List<String> args = new ArrayList<>(List.of("--configDir", home.conf().toString(), "-D",
        "taskmanager.resource-id=" + name));
    // the fine-grained memory settings taskmanager.sh passes (TaskManagerRunner requires them all)
    args.addAll(Arrays.asList(TaskExecutorProcessUtils.generateDynamicConfigsStr(spec).trim().split(" ")));
    launch(name, jvm, flinkClasspath(), "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", args);
    return name;
  }

  /** {@code kill -9} of a TaskManager process; returns once it is gone. */
  public void killTaskManager(String name) {
    ChildJvm.kill(process(name).orElseThrow(() -> new IllegalArgumentException(name + " is not running")));
  }

  /** Waits until at least {@code n} TaskManagers are registered with the JobManager. */
  public void awaitTaskManagers(int n) throws Exception {
    FlinkRest rest = rest();
    await("" + n + " TaskManagers registered", 120, () -> {
      try {
        return rest.taskManagers().size() >= n;
      } catch (IOException e) {
        return false;
      }
    });
  }

  /** Starts the broker process (after {@link #stopBroker}, with the same data and port) and waits until it answers. */
  public void startBroker() throws Exception {
    List<String> jvm = new ArrayList<>(List.of("-Xmx" + state.getProperty("broker.heap")));
    jvm.addAll(logging(KAFKA));
    launch(KAFKA, jvm, state.getProperty("kafka.classpath"), "kafka.Kafka",
        List.of(home.conf().resolve("server.properties").toString()));
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrapServers());
    p.put("request.timeout.ms", "2000");
    p.put("default.api.timeout.ms", "3000");
    try (Admin admin = Admin.create(p)) {
      await("the Kafka broker on " + bootstrapServers(), 60, () -> {
        try {
          return admin.describeCluster().nodes().get().size() == 1;
        } catch (Exception e) {
          return false;
        }
      });
    }
  }

  /** Stops the broker as an operator would (SIGTERM: controlled shutdown), waits until it is gone. */
  public void stopBroker() {
    process(KAFKA).ifPresent(p -> ChildJvm.stop(p, 60));
  }

  /** Stops every process: TaskManagers first (SIGTERM), then the JobManager, then the broker. */
  public void stop() throws IOException {
    for (String tm : taskManagers()) {
      process(tm).ifPresent(p -> ChildJvm.stop(p, 20));
    }
    process(JOB_MANAGER).ifPresent(p -> ChildJvm.stop(p, 20));
    stopBroker();
  }

  /** One line per process: name, pid, running or not. */
  public Map<String, String> status() throws IOException {
    Map<String, String> s = new TreeMap<>();
    try (var files = Files.list(home.pids())) {
      for (Path f : files.toList()) {
        String name = f.getFileName().toString().replace(".pid", "");
        s.put(name, process(name).map(p -> "running, pid " + p.pid()).orElse("not running"));
      }
    }
    return s;
  }

  private void startJobManager() throws Exception {
    Configuration conf = GlobalConfiguration.loadConfiguration(home.conf().toString());
    JobManagerProcessSpec spec = JobManagerProcessUtils.processSpecFromConfig(conf);
    List<String> jvm = new ArrayList<>(Arrays.asList(JobManagerProcessUtils.generateJvmParametersStr(spec, conf).split(" ")));
    jvm.addAll(logging(JOB_MANAGER));
    jvm.addAll(FLINK_JAVA_OPTS);
    launch(JOB_MANAGER, jvm, flinkClasspath(), "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint",
        List.of("--configDir", home.conf().toString()));
    FlinkRest rest = rest();
    await("the JobManager's REST API on " + webUi(), 120, rest::up);
  }

  private void formatKafka() throws Exception {
    String clusterId = org.apache.kafka.common.Uuid.randomUuid().toString();
    Path out = home.logs().resolve("kafka-format.out");
    Process p = ChildJvm.start(home.dir().toString(), List.of(), state.getProperty("kafka.classpath"),
        "kafka.tools.StorageTool", List.of("format", "-t", clusterId, "-c", home.conf().resolve("server.properties").toString()),
        Map.of(), out);
    if (p.waitFor() != 0) {
      throw new IllegalStateException("formatting the Kafka log directory failed (exit " + p.exitValue() + "); see " + out);
    }
  }

  private void launch(String name, List<String> jvm, String classpath, String main, List<String> args) throws IOException {
    ProcessHandle p = ChildJvm.start(home.dir().toString(), jvm, classpath, main, args, Map.of(),
        home.logs().resolve(name + ".out")).toHandle();
    Files.writeString(home.pids().resolve(name + ".pid"), Long.toString(p.pid()));
  }

  /** Log4j 2 settings for a child: Flink's and Kafka's logs to {@code logs/<name>.log}. */
  List<String> logging(String name) {
    String file = "file:" + home.conf().resolve("log4j.properties");
    return List.of("-Dlog.file=" + home.logs().resolve(name + ".log"), "-Dlog4j.configurationFile=" + file,
        "-Dlog4j2.configurationFile=" + file);
  }

  private void writeFlinkConfig(Settings s) throws IOException {
    String shared = home.dir().toString();
    Map<String, String> c = new TreeMap<>();
    c.put("jobmanager.rpc.address", "localhost");
    c.put("jobmanager.rpc.port", state.getProperty("jobmanager.rpc.port"));
    c.put("jobmanager.bind-host", "localhost");
    c.put("jobmanager.memory.process.size", s.jobManagerMemory());
    c.put("taskmanager.host", "localhost");
    c.put("taskmanager.bind-host", "localhost");
    c.put("taskmanager.numberOfTaskSlots", Integer.toString(s.slotsPerTaskManager()));
    c.put("taskmanager.memory.process.size", s.taskManagerMemory());
    // serving holds its graphs on the JVM heap and its RocksDB state is small: Flink's default 40%
    // of managed (off-heap) memory would leave a 4g TaskManager about 1.5 GB of heap for graphs
    c.put("taskmanager.memory.managed.fraction", "0.2");
    c.put("rest.address", "localhost");
    c.put("rest.bind-address", "localhost");
    c.put("rest.port", state.getProperty("rest.port"));
    // a killed TaskManager is noticed after two missed heartbeat RPCs (~4 s), not Flink's 50 s timeout
    c.put("heartbeat.interval", "2000");
    c.put("heartbeat.timeout", "20000");
    c.put("heartbeat.rpc-failure-threshold", "2");
    c.put("restart-strategy.type", "exponential-delay");
    c.put("restart-strategy.exponential-delay.initial-backoff", "1 s");
    c.put("restart-strategy.exponential-delay.max-backoff", "10 s");
    c.put("restart-strategy.exponential-delay.backoff-multiplier", "2.0");
    c.put("restart-strategy.exponential-delay.reset-backoff-threshold", "60 s");
    // spread tasks over TaskManagers: each serving subtask on its own TaskManager's engine and cores
    c.put("taskmanager.load-balance.mode", "TASKS");
    c.put("state.backend.type", "rocksdb");
    c.put("execution.checkpointing.dir", dev.nann.local.LocalStack.flinkDir(home.checkpoints()));
    c.put("io.tmp.dirs", shared + "/tmp");
    StringBuilder yaml = new StringBuilder("# written by ./nann cluster start\n");
    c.forEach((k, v) -> yaml.append(k).append(": ").append(yamlValue(v)).append('\n'));
    Files.createDirectories(home.dir().resolve("tmp"));
    Files.writeString(home.conf().resolve("config.yaml"), yaml);
    Files.writeString(home.conf().resolve("log4j.properties"), """
        # Flink's and Kafka's processes log to logs/<process>.log (the file is named by -Dlog.file)
        rootLogger.level = INFO
        rootLogger.appenderRef.main.ref = MainAppender
        appender.main.name = MainAppender
        appender.main.type = File
        appender.main.append = true
        appender.main.fileName = ${sys:log.file}
        appender.main.layout.type = PatternLayout
        appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
        logger.kafka.name = org.apache.kafka
        logger.kafka.level = WARN
        logger.kafkaserver.name = kafka
        logger.kafkaserver.level = WARN
        """);
  }

  private void writeKafkaConfig() throws IOException {
    String kafka = state.getProperty("kafka.port");
    String controller = state.getProperty("kafka.controller.port");
    Files.writeString(home.conf().resolve("server.properties"), String.join("\n",
        "# written by ./nann cluster start: one KRaft node, broker and controller",
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@localhost:" + controller,
        "listeners=PLAINTEXT://localhost:" + kafka + ",CONTROLLER://localhost:" + controller,
        "advertised.listeners=PLAINTEXT://localhost:" + kafka,
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        "log.dirs=" + home.kafkaData(),
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=4",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=4",
        "transaction.max.timeout.ms=900000",
        "group.initial.rebalance.delay.ms=0",
        "message.max.bytes=4194304",
        "auto.create.topics.enable=false",
        ""));
  }

  private synchronized void save() throws IOException {
    try (Writer w = Files.newBufferedWriter(home.state())) {
      state.store(w, "nann local cluster: ports and where its parts are");
    }
  }

  private static int tmNumber(String name) {
    return Integer.parseInt(name.substring(TASK_MANAGER.length()));
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static void await(String what, int seconds, BooleanSupplier done) throws InterruptedException {
    await(what, seconds, 200, done);
  }

  /** Polls {@code done} every {@code pollMillis} until it holds; throws after {@code seconds}. */
  static void await(String what, int seconds, long pollMillis, BooleanSupplier done) throws InterruptedException {
    long end = System.nanoTime() + seconds * 1_000_000_000L;
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new IllegalStateException("timed out after " + seconds + " s waiting for " + what);
      }
      Thread.sleep(pollMillis);
    }
  }

  private static double secs(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }

  /** {@code v} as a YAML value: quoted when plain it would end at a comment or read as another type of node. */
  static String yamlValue(String v) {
    boolean plain = !v.isEmpty() && !v.contains("#") && !v.contains(": ") && "'\"{[&*!|>%@`".indexOf(v.charAt(0)) < 0;
    return plain ? v : "'" + v.replace("'", "''") + "'";
  }
}
