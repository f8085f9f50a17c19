package dev.nann.cli.bench;

import dev.nann.cli.JsonLines;
import dev.nann.corpus.Corpus;
import dev.nann.corpus.SyntheticCorpus;
import dev.nann.local.FuzzRun;
import dev.nann.local.LocalStack;
import dev.nann.scorer.ModelSpec;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ./nann bench fuzz}: hostile records of every kind on every input topic of a running stack
 * (index-sync and serving on one MiniCluster, no restarts allowed), good requests interleaved; one
 * JSON line per topic and kind, and a summary, each figure a count of distinct records matched by
 * id ({@link FuzzRun}). Run it with a small heap to show one record cannot
 * exhaust it: {@code NANN_JAVA_OPTS=-Xmx512m ./nann bench fuzz}.
 */
@Command(name = "fuzz", mixinStandardHelpOptions = true,
    description = "Hostile records (bit flips, truncation, length bombs, wrong schemas, NaN, huge arrays, bad ids and "
        + "paths) on every input topic against a running job; every request must be dead-lettered or answered, once.")
public final class FuzzBench implements Callable<Integer> {
  @Option(names = "--per-topic", description = "hostile records per input topic (default: ${DEFAULT-VALUE})")
  int perTopic = 10_000;

  @Option(names = "--good-every", description = "one good request after this many hostile records (default: ${DEFAULT-VALUE})")
  int goodEvery = 10;

  @Option(names = "--items", description = "synthetic catalog size (default: ${DEFAULT-VALUE})")
  int items = 20_000;

  @Option(names = "--users", description = "users with behaviour (default: ${DEFAULT-VALUE})")
  int users = 200;

  @Option(names = "--model", description = "model directory (default: models/fixtures/attention-d16)")
  Path model;

  @Option(names = "--json", description = "also append JSON lines to this file")
  Path json;

  @Override
  public Integer call() throws Exception {
    Path modelDir = model != null ? model : BenchCatalog.repo().resolve("models/fixtures/attention-d16");
    int dim = ModelSpec.read(modelDir).itemDim();
    Corpus corpus = SyntheticCorpus.generate(items, dim, users, 7);
    Map<String, String> serving = Map.of("kafka.delivery", "at-least-once", "async.timeout-ms", "10000");
    Map<String, String> sync = Map.of("rebuild.max-interval-ms", "20000");
    List<String> lines = new ArrayList<>();
    try (LocalStack stack = LocalStack.start(BenchCatalog.repo().resolve(".nann-bench"), modelDir, corpus.itemIds(),
        corpus.embeddings(), dim, serving, sync, System.err, Map.of("restart-strategy.type", "none"))) {
      stack.client.replayBehaviour(corpus);
      try (KafkaConsumer<byte[], byte[]> responses = stack.client.responsesFromNow()) {
        stack.client.awaitServing(responses, 0, Duration.ofMinutes(3));
      }
      FuzzRun.Result r = FuzzRun.run(stack, perTopic, goodEvery, users, dim, 17, true, System.err);
      for (FuzzRun.Row row : r.rows()) {
        FuzzRun.Tally t = row.tally();
        lines.add(JsonLines.line(JsonLines.object().put("bench", "fuzz").put("topic", row.input().name().toLowerCase())
            .put("kind", row.kind().name().toLowerCase()).put("sent", t.sent()).put("answered", t.answered())
            .put("dead_lettered", t.deadLettered()).put("dead_letters", t.deadLetters())
            .put("seen_twice", t.seenTwice()).put("never_seen", t.neverSeen())));
      }
      long heapMax = Runtime.getRuntime().maxMemory() >> 20;
      long heapUsed = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20;
      FuzzRun.Tally h = r.hostileRequests();
      FuzzRun.Tally g = r.good();
      var summary = JsonLines.object().put("bench", "fuzz-summary").put("per_topic", perTopic)
          .put("hostile_requests_sent", h.sent()).put("hostile_requests_answered", h.answered())
          .put("hostile_requests_dead_lettered", h.deadLettered()).put("hostile_requests_seen_twice", h.seenTwice())
          .put("hostile_requests_never_seen", h.neverSeen())
          .put("good_sent", g.sent()).put("good_answered", r.goodAnsweredOk()).put("good_answered_any_status", g.answered())
          .put("good_dead_lettered", g.deadLettered()).put("good_seen_twice", g.seenTwice())
          .put("good_never_seen", g.neverSeen()).put("records_seen_twice", r.seenTwice())
          .put("unmatched_answers", r.unmatchedAnswers()).put("unmatched_dead_letters", r.unmatchedDeadLetters())
          .put("job_running", r.jobRunning()).put("restarts_allowed", 0)
          .put("heap_max_mb", heapMax).put("heap_used_mb", heapUsed);
      r.answersByStatus().forEach((status, n) -> summary.put("answered_" + status.name().toLowerCase(), n));
      r.anomalies().forEach(a -> System.err.println("[fuzz] seen twice or never: " + a));
      lines.add(JsonLines.line(summary));
      lines.forEach(System.out::println);
      JsonLines.append(json, lines);
      return r.jobRunning() && h.neverSeen() == 0 && r.seenTwice() == 0 && r.goodAnsweredOk() == g.sent() ? 0 : 1;
    }
  }
}
