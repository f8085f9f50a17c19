package dev.nann.cli;

import dev.nann.cluster.ClusterDeployment;
import dev.nann.cluster.ClusterHome;
import dev.nann.cluster.LocalCluster;
import dev.nann.jobs.ServingOptions;
import dev.nann.local.DemoCatalog;
import dev.nann.local.ServingClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ./nann cluster start|deploy|status|add-taskmanager|kill-taskmanager|stop}: a Flink session
 * cluster and a Kafka broker as separate processes on this machine, and the job jar deployed on it.
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
    description = {"A Flink 2.2 session cluster (one JobManager with the web UI, N TaskManagers) and a Kafka broker,",
        "each its own process on this machine, with the job jar deployed on it by Flink's own client."},
    subcommands = {ClusterCommand.Start.class, ClusterCommand.Deploy.class, ClusterCommand.Status.class,
        ClusterCommand.AddTaskManager.class, ClusterCommand.KillTaskManager.class, ClusterCommand.Stop.class})
public final class ClusterCommand implements Runnable {
  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  /**
   * Where the cluster lives (its directory option) and where its parts come from (the repository's
   * Flink jars and job jar).
   */
  public static final class Home {
    @Option(names = "--home", description = "the cluster's directory: configuration, logs, checkpoints, snapshots, "
        + "broker data (default: <repo>/.nann-cluster)")
    Path dir;

    ClusterHome home() {
      return new ClusterHome(dir != null ? dir : repo().resolve(".nann-cluster"));
    }

    public static Path repo() {
      return ModelLocator.repoRoot();
    }

    /** Flink's jars, as a distribution's lib/. */
    public static Path flinkLib() {
      return repo().resolve("flink-cluster/target/lib");
    }

    /** The job jar the README tells users to deploy. */
    public static Path jobJar() {
      return repo().resolve("flink-jobs/target/nann-job.jar");
    }
  }

  @Command(name = "start", mixinStandardHelpOptions = true, description = "Starts the broker, the JobManager and the TaskManagers.")
  static final class Start implements Callable<Integer> {
    @Mixin
    Home home;
    @Option(names = "--task-managers", description = "TaskManager processes (default: ${DEFAULT-VALUE})")
    int taskManagers = LocalCluster.Settings.defaults().taskManagers();
    @Option(names = "--slots", description = "task slots per TaskManager (default: ${DEFAULT-VALUE})")
    int slots = LocalCluster.Settings.defaults().slotsPerTaskManager();
    @Option(names = "--tm-memory", description = "each TaskManager's process memory (default: ${DEFAULT-VALUE})")
    String tmMemory = LocalCluster.Settings.defaults().taskManagerMemory();

    @Override
    public Integer call() throws Exception {
      LocalCluster.Settings d = LocalCluster.Settings.defaults();
      LocalCluster c = LocalCluster.start(home.home(), Home.flinkLib(), System.getProperty("java.class.path"),
          new LocalCluster.Settings(taskManagers, slots, tmMemory, d.jobManagerMemory(), d.brokerHeap()), System.err);
      System.out.printf("web UI: %s%nKafka: %s%nnext: ./nann cluster deploy%n", c.webUi(), c.bootstrapServers());
      return 0;
    }
  }

  @Command(name = "deploy", mixinStandardHelpOptions = true, description = {
      "Submits index-sync and serving from the job jar (flink run -d), sends the demo catalog to item-embeddings",
      "and waits until its snapshot is published. The jobs' settings files are written under <home>/jobs."})
  static final class Deploy implements Callable<Integer> {
    @Mixin
    Home home;
    @Option(names = "--parallelism", description = "the serving job's parallelism (default: ${DEFAULT-VALUE})")
    int parallelism = 2;
    @Option(names = "--set", description = "a serving setting KEY=VALUE (repeatable), e.g. kafka.delivery=exactly-once")
    Map<String, String> settings = Map.of();

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.attach(home.home());
      Path demo = Home.repo().resolve("demo");
      DemoCatalog catalog = DemoCatalog.load(demo);
      ClusterDeployment d = ClusterDeployment.deploy(c, Home.jobJar(), demo.resolve("model"), catalog.dim(), parallelism,
          settings, Map.of("rebuild.min-changes", Integer.toString(catalog.ids().length)), System.err);
      try (ServingClient client = new ServingClient(c.bootstrapServers(), d.serving().get(ServingOptions.TOPIC_REQUESTS),
          d.serving().get(ServingOptions.TOPIC_RESPONSES), d.serving().get(ServingOptions.TOPIC_USER_EVENTS))) {
        client.sendCatalog(d.serving().get(ServingOptions.TOPIC_ITEM_EMBEDDINGS), catalog.ids(), catalog.embeddings(),
            catalog.dim());
        var index = client.awaitIndex(d.serving().get(ServingOptions.TOPIC_INDEX_UPDATES), catalog.ids().length,
            Duration.ofMinutes(5));
        System.err.printf("[cluster] snapshot v%d of %,d items published to %s%n", index.getVersion(), index.getItems(),
            c.home().snapshots());
      }
      System.out.printf("serving: %s (settings %s)%nindex-sync: %s (settings %s)%ntry: ./nann request --config %s --user 1%n",
          d.servingJob(), d.servingFile(), d.indexSyncJob(), d.indexSyncFile(), d.servingFile());
      return 0;
    }
  }

  @Command(name = "status", mixinStandardHelpOptions = true, description = "Lists the cluster's processes and Flink's overview.")
  static final class Status implements Callable<Integer> {
    @Mixin
    Home home;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.attach(home.home());
      c.status().forEach((name, state) -> System.out.printf("%-16s %s%n", name, state));
      if (c.running()) {
        System.out.printf("web UI: %s%nKafka: %s%nFlink: %s%n", c.webUi(), c.bootstrapServers(), c.rest().get("/overview"));
      }
      return c.running() ? 0 : 1;
    }
  }

  @Command(name = "add-taskmanager", mixinStandardHelpOptions = true, description = "Starts one more TaskManager process.")
  static final class AddTaskManager implements Callable<Integer> {
    @Mixin
    Home home;

    @Override
    public Integer call() throws Exception {
      System.out.println(LocalCluster.attach(home.home()).startTaskManager());
      return 0;
    }
  }

  @Command(name = "kill-taskmanager", mixinStandardHelpOptions = true, description = "kill -9 of a TaskManager process.")
  static final class KillTaskManager implements Callable<Integer> {
    @Mixin
    Home home;
    @Parameters(description = "its name, as ./nann cluster status lists it (e.g. taskmanager-1)")
    String name;

    @Override
    public Integer call() throws Exception {
      LocalCluster.attach(home.home()).killTaskManager(name);
      return 0;
    }
  }

  @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stops every process of the cluster (its directory stays).")
  static final class Stop implements Callable<Integer> {
    @Mixin
    Home home;

    @Override
    public Integer call() throws Exception {
      LocalCluster.attach(home.home()).stop();
      return 0;
    }
  }
}
