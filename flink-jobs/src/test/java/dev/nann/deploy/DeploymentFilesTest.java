package dev.nann.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.nann.jobs.IndexSyncConfig;
import dev.nann.jobs.JobSettings;
import dev.nann.jobs.KafkaClientProperties;
import dev.nann.jobs.ServingConfig;
import dev.nann.jobs.ServingOptions;
import dev.nann.jobs.IndexSyncOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The deployment files: every manifest in {@code k8s/} parses and passes schema validation (the
 * Flink Kubernetes Operator's, Strimzi's and the Prometheus Operator's CRD schemas, Kubernetes'
 * own for core kinds, all vendored in {@code k8s/schemas/}, checked strictly: an unknown field is an
 * error, as a typo would be), the job settings they carry are accepted by the jobs' own config
 * parsers (the secured Kafka variant too, whose secrets must come from mounted Strimzi Secrets),
 * every topic the jobs use exists with the right cleanup policy, and the Dockerfile's versions
 * follow the build's.
 */
class DeploymentFilesTest {
  private static final Path REPO = Path.of(System.getProperty("nann.repo", "..")).toAbsolutePath().normalize();
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, JsonSchema> SCHEMAS = new HashMap<>();
  private static List<JsonNode> docs;

  @BeforeAll
  static void load() throws IOException {
    docs = new ArrayList<>();
    try (Stream<Path> files = Files.list(REPO.resolve("k8s"))) {
      for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        YAML.readValues(YAML.getFactory().createParser(f.toFile()), JsonNode.class).readAll().stream()
            .filter(n -> n != null && !n.isNull()).forEach(docs::add);
      }
    }
  }

  @Test
  void everyManifestPassesItsSchemaStrictly() throws IOException {
    assertTrue(docs.size() >= 15, "manifests found: " + docs.size());
    Map<String, Integer> kinds = new TreeMap<>();
    for (JsonNode doc : docs) {
      List<String> errors = validate(doc);
      assertTrue(errors.isEmpty(), name(doc) + ": " + errors);
      kinds.merge(doc.path("kind").asText(), 1, Integer::sum);
    }
    for (String kind : List.of("FlinkDeployment", "Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser", "PodMonitor",
        "PersistentVolumeClaim", "ConfigMap", "Namespace")) {
      assertTrue(kinds.containsKey(kind), "no " + kind + " in k8s/: " + kinds);
    }
  }

  @Test
  void validationCatchesATypoAndAWrongType() throws IOException {
    ObjectNode serving = (ObjectNode) find("FlinkDeployment", "nann-serving").deepCopy();
    ((ObjectNode) serving.get("spec")).put("taskManagr", "typo");
    assertFalse(validate(serving).isEmpty(), "an unknown field must fail");
    ObjectNode topic = (ObjectNode) find("KafkaTopic", "requests").deepCopy();
    ((ObjectNode) topic.get("spec")).put("partitions", "many");
    assertFalse(validate(topic).isEmpty(), "a string where an integer belongs must fail");
    ObjectNode pvc = (ObjectNode) find("PersistentVolumeClaim", "nann-store").deepCopy();
    ((ObjectNode) pvc.get("spec")).put("acessModes", "ReadWriteMany");
    assertFalse(validate(pvc).isEmpty(), "an unknown field in a core kind must fail");
    ObjectNode user = (ObjectNode) find("KafkaUser", "nann-serving").deepCopy();
    ((ObjectNode) user.at("/spec/authentication")).put("type", "scram-sha-256");
    assertFalse(validate(user).isEmpty(), "a SCRAM mechanism Strimzi does not offer must fail");
    ObjectNode sync = (ObjectNode) find("FlinkDeployment", "nann-index-sync").deepCopy();
    for (JsonNode v : sync.at("/spec/podTemplate/spec/volumes")) {
      if (v.has("secret")) {
        ((ObjectNode) v.get("secret")).put("secretNam", "typo");
      }
    }
    assertFalse(validate(sync).isEmpty(), "an unknown field in a mounted Secret volume must fail");
  }

  @Test
  void servingRunsOnGpuTaskManagersAndIndexSyncOnCpu() {
    JsonNode serving = find("FlinkDeployment", "nann-serving").get("spec");
    JsonNode tm = serving.at("/taskManager/podTemplate/spec");
    assertEquals(1, tm.at("/containers/0/resources/limits").get("nvidia.com/gpu").asInt());
    assertFalse(tm.path("tolerations").isEmpty());
    // the GPU limit schedules; a node selector on a GPU Feature Discovery label would leave clusters
    // with only the device plugin Pending
    assertTrue(tm.path("nodeSelector").isMissingNode(), tm.path("nodeSelector").toString());
    JsonNode sync = find("FlinkDeployment", "nann-index-sync").get("spec");
    assertTrue(sync.at("/taskManager/podTemplate").isMissingNode(), "index-sync needs no GPU");
    for (JsonNode d : List.of(serving, sync)) {
      assertEquals("v2_2", d.get("flinkVersion").asText(), "the operator must run our Flink version");
      assertEquals("rocksdb", d.at("/flinkConfiguration/state.backend.type").asText());
      // RocksDB's files on a mounted emptyDir, not the container's writable layer
      String local = d.at("/flinkConfiguration/io.tmp.dirs").asText();
      assertTrue(d.at("/podTemplate/spec/containers/0/volumeMounts").findValuesAsText("mountPath").contains(local),
          "io.tmp.dirs " + local + " is mounted");
      boolean emptyDir = false;
      for (JsonNode v : d.at("/podTemplate/spec/volumes")) {
        emptyDir |= v.has("emptyDir") && v.at("/emptyDir/sizeLimit").isTextual();
      }
      assertTrue(emptyDir, "a size-limited emptyDir for the TaskManagers' local files");
      assertTrue(d.at("/flinkConfiguration/execution.checkpointing.dir").asText().startsWith("s3://"));
      assertTrue(d.at("/flinkConfiguration/execution.checkpointing.savepoint-dir").asText().startsWith("s3://"));
      assertTrue(d.at("/flinkConfiguration/metrics.reporter.prom.factory.class").asText().contains("Prometheus"));
      // without HA a restarted JobManager knows no checkpoint: the job would start from empty state
      assertEquals("kubernetes", d.at("/flinkConfiguration/high-availability.type").asText());
      assertTrue(d.at("/flinkConfiguration/high-availability.storageDir").asText().startsWith("s3://"));
    }
    // the device plugin names the allocated GPU in NVIDIA_VISIBLE_DEVICES; a pod's own value would win
    assertFalse(tm.toString().contains("NVIDIA_VISIBLE_DEVICES"), "a TaskManager must see only its own GPU");
  }

  @Test
  void theServingTaskManagersMemoryAddsUpAndLeavesRoomForOnnxRuntime() {
    JsonNode spec = find("FlinkDeployment", "nann-serving").get("spec");
    Map<String, String> settings = new HashMap<>();
    spec.get("flinkConfiguration").fields().forEachRemaining(e -> settings.put(e.getKey(), e.getValue().asText()));
    org.apache.flink.configuration.Configuration conf = org.apache.flink.configuration.Configuration.fromMap(settings);
    // the operator gives the TaskManager's resource memory to Flink as its total process memory
    conf.set(org.apache.flink.configuration.TaskManagerOptions.TOTAL_PROCESS_MEMORY,
        org.apache.flink.configuration.MemorySize.parse(spec.at("/taskManager/resource/memory").asText()));
    var layout = org.apache.flink.runtime.clusterframework.TaskExecutorProcessUtils.processSpecFromConfig(conf);
    // ONNX Runtime's native memory: ./nann check-model puts the reference trainer's models at
    // 0.15-0.4 GB with 8 walkers, plus CUDA's host side; a model with wide layers needs its own figure
    assertTrue(layout.getTaskOffHeapSize().getBytes() >= (1L << 30), "task off-heap for ONNX Runtime: " + layout);
    // two versions of a 1M x 64 index (about 320 MB each) and the job's own objects fit the heap
    assertTrue(layout.getJvmHeapMemorySize().getBytes() >= (8L << 30), "JVM heap: " + layout);
    assertTrue(layout.getManagedMemorySize().getBytes() >= (4L << 30), "RocksDB's managed memory: " + layout);
  }

  @Test
  void theKafkaUsersHaveAnOperatorAndTheirSecretsAreOptionalMounts() {
    boolean users = docs.stream().anyMatch(d -> d.path("kind").asText().equals("KafkaUser"));
    assertTrue(users);
    assertTrue(find("Kafka", "nann-kafka").at("/spec/entityOperator/userOperator").isObject(),
        "KafkaUsers need Strimzi's User Operator, or their Secrets never exist and the pods never start");
    for (String job : List.of("nann-serving", "nann-index-sync")) {
      for (JsonNode v : find("FlinkDeployment", job).at("/spec/podTemplate/spec/volumes")) {
        if (v.at("/secret/secretName").asText().equals(job)) {
          assertTrue(v.at("/secret/optional").asBoolean(), job + ": the plain variant must start without its KafkaUser");
        }
      }
    }
  }

  @Test
  void theDockerfileCopiesEveryModulesPom() throws IOException {
    // Maven reads every module's pom of the reactor before -pl picks one: a module left out fails the build
    String pom = Files.readString(REPO.resolve("pom.xml"));
    String docker = Files.readString(REPO.resolve("Dockerfile"));
    Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(pom);
    int modules = 0;
    while (m.find()) {
      String module = m.group(1);
      modules++;
      assertTrue(Pattern.compile("(?m)^COPY " + Pattern.quote(module) + "(/pom\\.xml)? ").matcher(docker).find(),
          "the Dockerfile's build stage must copy module " + module + " (or its pom.xml)");
    }
    assertTrue(modules >= 8, "modules found: " + modules);
  }

  @Test
  void jobSettingsParseAndTopicsExist() throws Exception {
    Map<String, JsonNode> jobs = Map.of("dev.nann.jobs.ServingJob", find("FlinkDeployment", "nann-serving"),
        "dev.nann.jobs.IndexSyncJob", find("FlinkDeployment", "nann-index-sync"));
    Map<String, Map<String, String>> settings = new HashMap<>();
    for (Map.Entry<String, JsonNode> e : jobs.entrySet()) {
      JsonNode spec = e.getValue().get("spec");
      assertEquals(e.getKey(), spec.at("/job/entryClass").asText());
      Class.forName(e.getKey()).getMethod("main", String[].class);
      settings.put(e.getKey(), configFile(e.getValue(), spec.at("/job/args/1").asText()));
    }
    ServingConfig serving = ServingConfig.of(settings.get("dev.nann.jobs.ServingJob"));   // refuses unknown keys
    IndexSyncConfig sync = IndexSyncConfig.of(settings.get("dev.nann.jobs.IndexSyncJob"));
    // the job sets its own parallelism from its properties, over the deployment's: they must agree
    assertEquals(serving.get(ServingOptions.PARALLELISM), find("FlinkDeployment", "nann-serving").at("/spec/job/parallelism").asInt());
    assertEquals(sync.get(IndexSyncOptions.PARALLELISM), find("FlinkDeployment", "nann-index-sync").at("/spec/job/parallelism").asInt());
    assertEquals(serving.get(ServingOptions.SNAPSHOT_DIR), sync.get(IndexSyncOptions.SNAPSHOT_DIR), "both jobs must share the snapshot store");

    Map<String, String> cleanup = new HashMap<>();
    for (JsonNode doc : docs) {
      if (doc.path("kind").asText().equals("KafkaTopic")) {
        cleanup.put(doc.at("/metadata/name").asText(), doc.at("/spec/config/cleanup.policy").asText("delete"));
      }
    }
    for (String topic : serving.topics()) {
      assertTrue(cleanup.containsKey(topic), "no KafkaTopic for " + topic);
      assertEquals(serving.compactedTopics().contains(topic) ? "compact" : "delete", cleanup.get(topic), topic);
    }
    for (String topic : sync.topics()) {
      assertTrue(cleanup.containsKey(topic), "no KafkaTopic for " + topic);
    }
  }

  /**
   * The secured Kafka variant: each job's -secure.properties (next to the file its args name) loads
   * through the job's parser, differs from the plain file only in its Kafka lines, points at the
   * Kafka resource's TLS + SCRAM-SHA-512 listener, and takes its login and CA from Secrets the
   * deployment mounts: the job's own KafkaUser (SCRAM) and Strimzi's cluster CA certificate.
   */
  @Test
  void theSecuredVariantLoadsAndReadsItsSecretsFromMountedStrimziSecrets() throws Exception {
    JsonNode kafka = find("Kafka", "nann-kafka");
    JsonNode listener = null;
    for (JsonNode l : kafka.at("/spec/kafka/listeners")) {
      if (l.path("tls").asBoolean() && l.at("/authentication/type").asText().equals("scram-sha-512")) {
        listener = l;
      }
    }
    assertNotNull(listener, "the Kafka resource has no TLS + scram-sha-512 listener");
    String cluster = kafka.at("/metadata/name").asText();
    String bootstrap = cluster + "-kafka-bootstrap." + kafka.at("/metadata/namespace").asText() + ".svc:"
        + listener.get("port").asInt();
    Set<String> users = new java.util.HashSet<>();
    for (JsonNode d : docs) {
      if (d.path("kind").asText().equals("KafkaUser")) {
        assertEquals(cluster, d.at("/metadata/labels/strimzi.io~1cluster").asText(), name(d));
        assertEquals("scram-sha-512", d.at("/spec/authentication/type").asText(), name(d));
        users.add(d.at("/metadata/name").asText());
      }
    }
    Set<String> loginsUsed = new java.util.HashSet<>();
    for (String deployment : List.of("nann-serving", "nann-index-sync")) {
      JsonNode d = find("FlinkDeployment", deployment);
      String plainPath = d.at("/spec/job/args/1").asText();
      assertTrue(plainPath.endsWith(".properties"), plainPath);
      Map<String, String> plain = configFile(d, plainPath);
      Map<String, String> secure = configFile(d, plainPath.replace(".properties", "-secure.properties"));
      JobSettings cfg = deployment.equals("nann-serving") ? ServingConfig.of(secure) : IndexSyncConfig.of(secure);
      Map<String, String> kafkaProps = cfg.kafkaProperties();

      Map<String, String> rest = new TreeMap<>(secure);
      rest.keySet().removeIf(k -> k.startsWith(KafkaClientProperties.PREFIX));
      rest.put("kafka.bootstrap-servers", plain.get("kafka.bootstrap-servers"));
      assertEquals(plain, rest, deployment + ": the secure file differs from the plain one only in its Kafka lines");
      assertEquals(bootstrap, secure.get("kafka.bootstrap-servers"), deployment);
      assertEquals("SASL_SSL", kafkaProps.get("security.protocol"), deployment);
      assertEquals("SCRAM-SHA-512", kafkaProps.get("sasl.mechanism"), deployment);

      // the JAAS line: read by a DirectoryConfigProvider from this job's KafkaUser Secret, mounted
      Map<String, String> secrets = secretMounts(d);
      Matcher jaas = Pattern.compile("\\$\\{([a-z]+):(/[^:}]+):sasl\\.jaas\\.config}")
          .matcher(kafkaProps.get("sasl.jaas.config"));
      assertTrue(jaas.matches(), deployment + ": sasl.jaas.config must come from a mounted secret: "
          + kafkaProps.get("sasl.jaas.config"));
      String provider = jaas.group(1);
      assertTrue(List.of(kafkaProps.get("config.providers").split(",")).contains(provider), deployment);
      assertEquals("org.apache.kafka.common.config.provider.DirectoryConfigProvider",
          kafkaProps.get("config.providers." + provider + ".class"), deployment);
      assertEquals(jaas.group(2), kafkaProps.get("config.providers." + provider + ".param.allowed.paths"), deployment);
      String login = secrets.get(jaas.group(2));
      assertTrue(users.contains(login), deployment + ": " + jaas.group(2) + " must mount a KafkaUser's Secret, got " + login);
      assertTrue(loginsUsed.add(login), "each job logs in as its own KafkaUser: " + login);

      // the CA: Strimzi's cluster CA certificate Secret, mounted, read as PEM
      String truststore = kafkaProps.get("ssl.truststore.location");
      assertEquals("PEM", kafkaProps.get("ssl.truststore.type"), deployment);
      assertTrue(truststore.endsWith("/ca.crt"), truststore);
      assertEquals(cluster + "-cluster-ca-cert", secrets.get(truststore.substring(0, truststore.lastIndexOf('/'))),
          deployment + ": " + truststore + " must be in the mounted cluster CA Secret");

      assertTrue(cfg.toString().contains("kafka.properties.sasl.jaas.config=****"), cfg.toString());
    }
  }

  /** A job's properties file, read from the ConfigMap mounted where {@code path} lies. */
  private static Map<String, String> configFile(JsonNode deployment, String path) throws IOException {
    JsonNode spec = deployment.get("spec");
    JsonNode mount = null;
    for (JsonNode m : spec.at("/podTemplate/spec/containers/0/volumeMounts")) {
      if (path.startsWith(m.get("mountPath").asText() + "/")) {
        mount = m;
      }
    }
    assertNotNull(mount, path + " is not under a mounted volume");
    String configMap = null;
    for (JsonNode v : spec.at("/podTemplate/spec/volumes")) {
      if (v.get("name").asText().equals(mount.get("name").asText())) {
        configMap = v.at("/configMap/name").asText();
      }
    }
    String file = path.substring(path.lastIndexOf('/') + 1);
    JsonNode text = find("ConfigMap", configMap).at("/data").get(file);
    assertNotNull(text, "no " + file + " in ConfigMap " + configMap);
    Properties p = new Properties();
    p.load(new StringReader(text.asText()));
    Map<String, String> m = new TreeMap<>();
    p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k)));
    return m;
  }

  /** Mount path -> Secret name, for the Secret volumes of a deployment's main container. */
  private static Map<String, String> secretMounts(JsonNode deployment) {
    JsonNode spec = deployment.at("/spec/podTemplate/spec");
    Map<String, String> secretByVolume = new HashMap<>();
    for (JsonNode v : spec.path("volumes")) {
      if (v.has("secret")) {
        secretByVolume.put(v.get("name").asText(), v.at("/secret/secretName").asText());
      }
    }
    Map<String, String> out = new HashMap<>();
    for (JsonNode m : spec.at("/containers/0/volumeMounts")) {
      String secret = secretByVolume.get(m.get("name").asText());
      if (secret != null) {
        out.put(m.get("mountPath").asText(), secret);
      }
    }
    return out;
  }

  @Test
  void dockerfileFollowsTheBuildsVersions() throws IOException {
    String pom = Files.readString(REPO.resolve("pom.xml"));
    String docker = Files.readString(REPO.resolve("Dockerfile"));
    assertTrue(docker.contains("flink:" + property(pom, "flink.version") + "-java17"), "Flink image version");
    assertTrue(docker.contains("onnxruntime_gpu:" + property(pom, "onnxruntime.version")), "ORT GPU version");
    assertTrue(docker.contains("/opt/flink/usrlib/nann-job.jar"));
    for (JsonNode d : List.of(find("FlinkDeployment", "nann-serving"), find("FlinkDeployment", "nann-index-sync"))) {
      assertEquals("local:///opt/flink/usrlib/nann-job.jar", d.at("/spec/job/jarURI").asText());
    }
  }

  private static String property(String pom, String name) {
    Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(pom);
    assertTrue(m.find(), name + " not in pom.xml");
    return m.group(1);
  }

  private static JsonNode find(String kind, String name) {
    for (JsonNode d : docs) {
      if (d.path("kind").asText().equals(kind) && d.at("/metadata/name").asText().equals(name)) {
        return d;
      }
    }
    throw new AssertionError("no " + kind + " named " + name + " in k8s/");
  }

  private static String name(JsonNode doc) {
    return doc.path("kind").asText() + "/" + doc.at("/metadata/name").asText();
  }

  private static List<String> validate(JsonNode doc) throws IOException {
    String apiVersion = doc.path("apiVersion").asText();
    String kind = doc.path("kind").asText();
    int slash = apiVersion.indexOf('/');
    String file = slash < 0
        ? kind.toLowerCase() + "-" + apiVersion
        : kind.toLowerCase() + "-" + apiVersion.substring(0, slash) + "-" + apiVersion.substring(slash + 1);
    JsonSchema schema = SCHEMAS.get(file);
    if (schema == null) {
      Path p = REPO.resolve("k8s/schemas").resolve(file + ".json.gz");
      assertTrue(Files.exists(p), "no schema for " + apiVersion + " " + kind + " (" + p + ")");
      JsonNode raw;
      try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
        raw = JSON.readTree(in);
      }
      ((ObjectNode) raw).remove("$schema");   // Kubernetes' schemas name a generic meta-schema; read them as draft 4
      // the API server declares these for every custom resource; some CRD schemas leave them out
      ObjectNode props = ((ObjectNode) raw).with("properties");
      props.putIfAbsent("apiVersion", JSON.createObjectNode().put("type", "string"));
      props.putIfAbsent("kind", JSON.createObjectNode().put("type", "string"));
      props.putIfAbsent("metadata", JSON.createObjectNode().put("type", "object"));
      schema = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V4).getSchema(strict(raw));
      SCHEMAS.put(file, schema);
    }
    Set<ValidationMessage> errors = schema.validate(doc);
    return errors.stream().map(ValidationMessage::getMessage).sorted().toList();
  }

  /**
   * A CRD schema as the API server's strict field validation reads it: objects with declared
   * properties allow no others unless marked {@code x-kubernetes-preserve-unknown-fields}.
   */
  private static JsonNode strict(JsonNode node) {
    if (node.isObject()) {
      ObjectNode o = (ObjectNode) node;
      if (o.has("properties") && !o.has("additionalProperties")
          && !o.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)) {
        o.put("additionalProperties", false);
      }
      for (Iterator<JsonNode> it = o.elements(); it.hasNext(); ) {
        strict(it.next());
      }
    } else if (node.isArray()) {
      node.forEach(DeploymentFilesTest::strict);
    }
    return node;
  }
}
