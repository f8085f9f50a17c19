package dev.nann.cli;

import dev.nann.client.NannClient;
import dev.nann.client.NannIds;
import dev.nann.jobs.KafkaClientProperties;
import dev.nann.jobs.ServingConfig;
import dev.nann.jobs.ServingOptions;
import dev.nann.local.DemoCatalog;
import dev.nann.schemas.RetrievalRequest;
import dev.nann.schemas.ResponseStatus;
import dev.nann.schemas.RetrievalResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ./nann request --user U --k 50}: asks a running serving job (the demo by default) and prints the answer. */
@Command(name = "request", mixinStandardHelpOptions = true,
    description = "Sends one retrieval request to a running serving job (by default the one `./nann demo` started) and prints its answer.")
public final class RequestCommand implements Callable<Integer> {
  @Option(names = "--user", required = true, description = "user id: an integer, or the text a log named the user by "
      + "(hashed as the trainer and NannIds.of do)")
  String user;

  @Option(names = "--id-names", description = "a trained run's id-names.tsv: print the text behind each hashed item id")
  Path idNames;

  @Option(names = "--k", description = "items to return (default: ${DEFAULT-VALUE})")
  int k = 50;

  @Option(names = "--mode", description = "nann (the default walk), beam, hnsw, brute or dr (default: ${DEFAULT-VALUE})")
  String mode = "nann";

  @Option(names = "--budget", description = "most items the walk may score (0: the job's search.budget; default: ${DEFAULT-VALUE})")
  int budget = 0;

  @Option(names = "--bootstrap", description = "Kafka bootstrap servers (default: --config's, else the running demo's, "
      + "from .nann-demo/bootstrap)")
  String bootstrap;

  @Option(names = "--topic-prefix", description = "prefix of the requests/responses/user-events topic names (default: none; "
      + "not with --config)")
  String prefix = "";

  @Option(names = "--config", description = "the serving job's properties file: its bootstrap servers, topics and "
      + "kafka.properties.* (TLS, SASL) are used")
  Path config;

  @Option(names = "--kafka-config", description = "a Kafka client properties file (security.protocol, sasl.*, ssl.*; "
      + "like the console tools' --command-config)")
  Path kafkaConfig;

  @Option(names = "--kafka-property", description = "a Kafka client property KEY=VALUE (repeatable; over --config and "
      + "--kafka-config)")
  Map<String, String> kafkaProperties = Map.of();

  @Option(names = "--timeout-s", description = "how long to wait for the answer (default: ${DEFAULT-VALUE})")
  int timeoutSeconds = 30;

  @Option(names = "--json", description = "print the response as JSON")
  boolean json;

  @Option(names = "--demo-titles", description = "name the items by the demo catalogue's titles also when asking "
      + "another job (./nann cluster deploy serves the demo catalogue); by default only when asking the demo")
  boolean demoTitles;

  @Override
  public Integer call() throws Exception {
    if (k < 1 || budget < 0 || timeoutSeconds < 1) {
      throw new IllegalArgumentException("--k must be at least 1, --budget at least 0 and --timeout-s at least 1");
    }
    dev.nann.search.SearchMode.parse(mode);   // a typo is one line here, not an INVALID answer from the job
    Path repo = Path.of(System.getProperty("nann.repo", "."));
    ServingConfig job = null;
    if (config != null) {
      if (!prefix.isEmpty()) {
        throw new IllegalArgumentException("--topic-prefix and --config: the topics come from --config");
      }
      job = ServingConfig.load(config);
    }
    String servers = bootstrap != null ? bootstrap : job != null ? job.get(ServingOptions.BOOTSTRAP_SERVERS) : null;
    if (servers == null) {
      Path file = repo.resolve(".nann-demo/bootstrap");
      if (!Files.exists(file)) {
        throw new IllegalArgumentException("no --bootstrap given and no running demo found (" + file + "); start `./nann demo` first");
      }
      servers = Files.readString(file).trim();
    }
    String requests = job != null ? job.get(ServingOptions.TOPIC_REQUESTS) : prefix + ServingOptions.TOPIC_REQUESTS.defaultValue();
    String responses = job != null ? job.get(ServingOptions.TOPIC_RESPONSES) : prefix + ServingOptions.TOPIC_RESPONSES.defaultValue();
    Map<String, String> clientProperties = clientProperties(job);
    // the demo's titles name the demo's items only: another job (--bootstrap, --config) has its own ids
    boolean demo = demoTitles || bootstrap == null && job == null;
    Map<Long, String> names = idNames != null ? itemNames(idNames)
        : demo && Files.exists(repo.resolve("demo/catalog/items.tsv")) ? DemoCatalog.load(repo.resolve("demo")).titles()
        : Map.of();
    // the client looks the responses topic up when made: within the wait asked for, not Kafka's minute
    clientProperties.putIfAbsent("default.api.timeout.ms", Long.toString(timeoutSeconds * 1000L));
    NannClient made;
    try {
      made = new NannClient(servers, requests, responses, clientProperties);
    } catch (org.apache.kafka.common.errors.TimeoutException e) {
      System.err.println("nann: no Kafka broker answered at " + servers + " within " + timeoutSeconds + " s"
          + (bootstrap == null && job == null ? " (is `./nann demo` running?)" : ""));
      return 1;
    }
    try (NannClient client = made) {
      RetrievalRequest r = NannClient.request(NannIds.of(user), k);
      r.setMode(mode);
      r.setBudget(budget);
      try {
        RetrievalResponse answer = client.retrieve(r, Duration.ofSeconds(timeoutSeconds)).get();
        print(answer, names);
        // a script can tell a served answer from a refused or failed one
        return answer.getStatus() == ResponseStatus.OK || answer.getStatus() == ResponseStatus.COLD_START ? 0 : 1;
      } catch (ExecutionException e) {
        if (e.getCause() instanceof TimeoutException) {
          System.err.println("nann: no answer to request " + r.getRequestId() + " within " + timeoutSeconds + " s");
          return 1;
        }
        if (e.getCause() instanceof org.apache.kafka.common.KafkaException || e.getCause() instanceof IllegalStateException) {
          System.err.println("nann: the request could not be sent or answered: " + e.getCause().getMessage());
          return 1;
        }
        throw e;
      }
    }
  }

  /** Kafka client properties: --config's kafka.properties.*, then --kafka-config, then --kafka-property. */
  Map<String, String> clientProperties(ServingConfig job) throws java.io.IOException {
    Map<String, String> m = new TreeMap<>();
    if (job != null) {
      m.putAll(job.kafkaProperties());
    }
    if (kafkaConfig != null) {
      Properties p = new Properties();
      try (java.io.Reader r = Files.newBufferedReader(kafkaConfig)) {
        p.load(r);
      }
      Map<String, String> file = new TreeMap<>();
      p.stringPropertyNames().forEach(k -> file.put(k, p.getProperty(k)));
      m.putAll(KafkaClientProperties.checked(file, kafkaConfig + ": "));
    }
    m.putAll(KafkaClientProperties.checked(kafkaProperties, "--kafka-property "));
    return m;
  }

  /** The item lines of a trainer's id-names.tsv ({@code item<TAB>id<TAB>text}). */
  static Map<Long, String> itemNames(Path file) throws java.io.IOException {
    Map<Long, String> m = new java.util.HashMap<>();
    for (String line : Files.readAllLines(file)) {
      String[] f = line.split("\t", 3);
      if (f.length == 3 && f[0].equals("item")) {
        m.put(Long.parseLong(f[1]), f[2]);
      }
    }
    return m;
  }

  private void print(RetrievalResponse r, Map<Long, String> names) {
    if (json) {
      System.out.println(r);
      return;
    }
    System.out.printf(Locale.ROOT, "request %s  user %d  %s  index v%d  model %s  scored %d  %.1f ms%s%n",
        r.getRequestId(), r.getUserId(), r.getStatus(), r.getIndexVersion(), r.getModelVersion(), r.getItemsScored(),
        r.getLatencyMillis(), r.getDetail().isEmpty() ? "" : "  (" + r.getDetail() + ")");
    for (int i = 0; i < r.getItems().size(); i++) {
      long item = r.getItems().get(i);
      System.out.printf(Locale.ROOT, "%4d  %8d  %9.4f  %s%n", i + 1, item, r.getScores().get(i),
          names.getOrDefault(item, ""));
    }
  }
}
