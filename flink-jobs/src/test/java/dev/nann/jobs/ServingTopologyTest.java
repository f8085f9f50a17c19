package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertex;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.junit.jupiter.api.Test;

/**
 * The serving job's chains: from the keyed user state to the responses sink an answer stays on one
 * task (no network hop after the keyBy), for a sharded index from the gather on.
 */
class ServingTopologyTest {
  private static ServingConfig config(Map<String, String> settings) {
    Path model = Path.of(System.getProperty("user.dir")).resolve("../models/fixtures/attention-d16").normalize();
    return ServingConfig.of(Map.of("kafka.bootstrap-servers", "127.0.0.1:9", "model.dir", model.toString(),
        "snapshot.dir", "/tmp/nann-topology-test")).with(settings);
  }

  private static List<String> vertices(Map<String, String> settings) {
    ServingConfig cfg = config(settings);
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(ServingJob.flinkConfiguration(cfg));
    ServingJob.build(env, cfg);
    JobGraph graph = env.getStreamGraph().getJobGraph();
    List<String> names = new ArrayList<>();
    for (JobVertex v : graph.getVertices()) {
      names.add(v.getName());
    }
    return names;
  }

  private static long containing(List<String> names, String... parts) {
    return names.stream().filter(n -> java.util.Arrays.stream(parts).allMatch(n::contains)).count();
  }

  @Test
  void theUserStateTheEngineTheRouterAndTheResponsesSinkAreOneChain() {
    List<String> names = vertices(Map.of());
    assertEquals(1, containing(names, "user state + enrich", "async retrieval", "answer router", "responses"), names.toString());
  }

  @Test
  void aShardedIndexChainsTheRouterOntoTheGather() {
    List<String> names = vertices(Map.of("index.shards", "2"));
    assertEquals(1, containing(names, "gather shards", "answer router", "responses"), names.toString());
    assertTrue(containing(names, "async shard retrieval") >= 1, names.toString());
  }

  /** A dr.dir without its layer files is refused when the job is built, not in each TaskManager's (re)start. */
  @Test
  void anIncompleteDeepRetrievalDirectoryIsRefusedWhenTheJobIsBuilt(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    java.nio.file.Files.writeString(tmp.resolve("dr.json"),
        "{\"format\": 1, \"depth\": 2, \"width\": 4, \"paths_per_item\": 1}");
    java.nio.file.Files.writeString(tmp.resolve("paths.tsv"), "1\t0.1\n");
    dev.nann.scorer.ModelContractException e = assertThrows(dev.nann.scorer.ModelContractException.class,
        () -> vertices(Map.of("dr.dir", tmp.toString())));
    assertTrue(e.getMessage().contains("lacks layer_0.onnx"), e.getMessage());
  }

  /**
   * No record type falls back to Kryo: the jobs run with generic types disabled, so a type without a
   * serializer of its own fails when the job is built (as the serving topology above would).
   */
  @Test
  void aTypeThatWouldFallBackToKryoFailsWhenTheJobIsBuilt() {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(
        ServingJob.flinkConfiguration(config(Map.of())));
    UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> {
      env.fromData(new java.util.BitSet()).print();
      env.getStreamGraph();
    });
    assertTrue(e.getMessage().startsWith("Generic types have been disabled"), e.getMessage());
  }
}
