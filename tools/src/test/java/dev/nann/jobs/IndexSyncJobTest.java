package dev.nann.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.graph.HnswIndex;
import dev.nann.graph.ItemIdLookup;
import dev.nann.graph.SnapshotFormat;
import dev.nann.local.LocalKafka;
import dev.nann.schemas.codec.AvroCodec;
import dev.nann.schemas.DeadLetter;
import dev.nann.schemas.IndexDescriptor;
import dev.nann.schemas.ItemEmbedding;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index-sync job on a real broker and MiniCluster: catalog changes become verified snapshots
 * with forward-moving versions; malformed records are dead-lettered; a restart from a checkpoint
 * loses no catalog change.
 */
class IndexSyncJobTest {
  private static final int DIM = 16;
  private static final AvroCodec<ItemEmbedding> ITEMS = AvroCodec.of(ItemEmbedding.class);
  private static final AvroCodec<IndexDescriptor> DESCRIPTORS = AvroCodec.of(IndexDescriptor.class);

  @TempDir
  Path dir;

  private static ItemEmbedding item(long id, Random rnd) {
    List<Float> v = new ArrayList<>();
    for (int i = 0; i < DIM; i++) {
      v.add((float) rnd.nextGaussian());
    }
    return ItemEmbedding.newBuilder().setItemId(id).setEmbedding(v)
        .setAttributes(Map.of("parity", id % 2 == 0 ? "even" : "odd")).build();
  }

  private static ItemEmbedding deletion(long id) {
    return ItemEmbedding.newBuilder().setItemId(id).setDeleted(true).build();
  }

  private static JobClient start(IndexSyncConfig cfg, String restore) throws Exception {
    Configuration conf = IndexSyncJob.flinkConfiguration(cfg);
    conf.setString("restart-strategy.type", "none");
    if (restore != null) {
      conf.setString("execution.state-recovery.path", restore);
    }
    StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironment(conf);
    IndexSyncJob.build(env, cfg);
    return env.executeAsync("nann-index-sync-test");
  }

  private static IndexDescriptor awaitVersion(KafkaConsumer<byte[], byte[]> c, long version) throws IOException {
    long end = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (System.nanoTime() < end) {
      for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
        IndexDescriptor d = DESCRIPTORS.decode(r.value());
        if (d.getVersion() == version) {
          return d;
        }
        assertTrue(d.getVersion() < version, "unexpected version " + d.getVersion() + " before " + version);
      }
    }
    throw new AssertionError("no index version " + version + " within 90 s");
  }

  private static HnswIndex read(IndexDescriptor d) {
    HnswIndex index = SnapshotFormat.read(Path.of(java.net.URI.create(d.getUri())));
    assertEquals(d.getSha256(), index.sha256());
    assertEquals(d.getItems(), index.size() - index.deletedCount());
    // catalog attributes travel with every snapshot (full and in-place builds) for request filters
    java.util.BitSet even = index.attributes().eligible(Map.of("parity", List.of("even")), index.size());
    for (int node = 0; node < index.size(); node++) {
      if (!index.isDeleted(node)) {
        assertEquals(index.itemId(node) % 2 == 0, even.get(node), "attribute of item " + index.itemId(node));
      }
    }
    return index;
  }

  @Test
  void catalogChangesBecomeVerifiedSnapshotsAndSurviveARestart() throws Exception {
    try (LocalKafka kafka = LocalKafka.start(dir.resolve("kafka"))) {
      Path checkpoints = dir.resolve("checkpoints");
      IndexSyncConfig cfg = IndexSyncConfig.of(Map.of(
          "kafka.bootstrap-servers", kafka.bootstrapServers(),
          "snapshot.dir", dir.resolve("snapshots").toString(),
          "index.dim", Integer.toString(DIM),
          "index.m", "16",
          "rebuild.min-changes", "300",
          "rebuild.max-interval-ms", "1500",
          "snapshots.keep", "2",
          "checkpoint.interval-ms", "500",
          "checkpoint.dir", checkpoints.toUri().toString()));
      kafka.createTopics(cfg.topics(), 1, cfg.compactedTopics());
      Properties p = new Properties();
      p.put("bootstrap.servers", kafka.bootstrapServers());
      p.put("max.in.flight.requests.per.connection", "1");
      Random rnd = new Random(3);
      String topic = cfg.get(IndexSyncOptions.TOPIC_ITEM_EMBEDDINGS);
      try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
           KafkaConsumer<byte[], byte[]> updates = ServingFixture.consumer(kafka.bootstrapServers(), cfg.get(IndexSyncOptions.TOPIC_INDEX_UPDATES));
           KafkaConsumer<byte[], byte[]> dead = ServingFixture.consumer(kafka.bootstrapServers(), cfg.get(IndexSyncOptions.TOPIC_DEAD_LETTER))) {
        for (long id = 1; id <= 300; id++) {
          send(producer, topic, id, ITEMS.encode(item(id, rnd)));
        }
        // malformed: random bytes, an embedding of the wrong dimension, and one with a value so large that
        // a score network overflows on it
        send(producer, topic, 9_999, new byte[] {1, 2, 3});
        ItemEmbedding wrong = item(9_998, rnd);
        wrong.setEmbedding(wrong.getEmbedding().subList(0, 5));
        send(producer, topic, 9_998, ITEMS.encode(wrong));
        ItemEmbedding huge = item(9_997, rnd);
        huge.getEmbedding().set(3, -1e7f);
        send(producer, topic, 9_997, ITEMS.encode(huge));
        producer.flush();
        JobClient job = start(cfg, null);

        IndexDescriptor v1 = awaitVersion(updates, 1);
        HnswIndex i1 = read(v1);
        assertEquals(300, i1.size());

        // 5 new items and 3 deletes: fewer than min-changes, so the interval triggers version 2
        for (long id = 1_001; id <= 1_005; id++) {
          send(producer, topic, id, ITEMS.encode(item(id, rnd)));
        }
        for (long id = 1; id <= 3; id++) {
          send(producer, topic, id, ITEMS.encode(deletion(id)));
        }
        ItemEmbedding moved = item(10, rnd);
        send(producer, topic, 10, ITEMS.encode(moved));
        producer.flush();
        IndexDescriptor v2 = awaitVersion(updates, 2);
        HnswIndex i2 = read(v2);
        ItemIdLookup ids2 = ItemIdLookup.of(i2);
        assertEquals(302, v2.getItems());
        assertEquals(306, i2.size(), "built in place: 5 inserted and 1 moved node added to the 300, nothing rebuilt");
        assertEquals(4, i2.deletedCount(), "3 deletes and the moved item's old node are tombstones");
        assertTrue(ids2.nodeOf(1_003) >= 0, "an upserted item is in the next snapshot");
        assertEquals(-1, ids2.nodeOf(2), "a deleted item is not");
        float[] movedRow = i2.embeddings().row(ids2.nodeOf(10));
        for (int j = 0; j < DIM; j++) {
          assertEquals(moved.getEmbedding().get(j), movedRow[j], "the updated embedding is served");
        }

        List<ConsumerRecord<byte[], byte[]>> dl = ServingFixture.pollUntil(dead, ServingFixture.newList(),
            l -> l.size() >= 3, Duration.ofSeconds(30));
        assertEquals(3, dl.size());
        assertTrue(AvroCodec.of(DeadLetter.class).decode(dl.get(1).value()).getReason().contains("dim 16"));
        String tooLarge = AvroCodec.of(DeadLetter.class).decode(dl.get(2).value()).getReason();
        assertTrue(tooLarge.startsWith("cannot decode: item 9997 has an embedding value of magnitude 1.0E7 (at 3), above "
            + "catalog.max-abs-value 1000000.0"), tooLarge);
        assertEquals(-1, ids2.nodeOf(9_997), "and is not indexed");

        // restart from the latest checkpoint: the catalog and the version continue
        Thread.sleep(1500);   // a checkpoint after version 2
        job.cancel().get();
        Path latest = ServingFixture.latestCheckpoint(checkpoints);
        send(producer, topic, 2_000, ITEMS.encode(item(2_000, rnd)));
        producer.flush();
        job = start(cfg, latest.toUri().toString());
        IndexDescriptor v3 = awaitVersion(updates, 3);
        ItemIdLookup ids3 = ItemIdLookup.of(read(v3));
        assertEquals(303, v3.getItems(), "no catalog change lost across the restart");
        assertEquals(0, read(v3).deletedCount(), "after a restart the first build is a full one");
        assertTrue(ids3.nodeOf(2_000) >= 0 && ids3.nodeOf(1_005) >= 0 && ids3.nodeOf(2) == -1);
        job.cancel().get();

        // only the newest 2 snapshot files are kept
        try (Stream<Path> files = Files.list(dir.resolve("snapshots"))) {
          List<String> names = files.map(f -> f.getFileName().toString()).sorted().toList();
          assertEquals(List.of("index-v000000000002.nann", "index-v000000000003.nann"), names);
        }
        assertFalse(Files.exists(Path.of(java.net.URI.create(v1.getUri()))));

        // a start without state (a lost checkpoint directory, `./nann index-sync` run again) reads the whole
        // catalogue again: from the committed offsets it held one item and published it as the newest version
        send(producer, topic, 2_001, ITEMS.encode(item(2_001, rnd)));
        producer.flush();
        job = start(cfg, null);
        IndexDescriptor first = awaitVersion(updates, 4);
        assertTrue(first.getItems() >= 300, "the first version after a stateless start holds the catalogue: " + first);
        IndexDescriptor all = first;
        long end = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (all.getItems() != 304 && System.nanoTime() < end) {
          all = awaitVersion(updates, all.getVersion() + 1);
        }
        assertEquals(304, all.getItems(), "every item, 2,001 among them");
        job.cancel().get();
      }
    }
  }

  private static void send(KafkaProducer<byte[], byte[]> producer, String topic, long id, byte[] value) {
    producer.send(new ProducerRecord<>(topic, Long.toString(id).getBytes(StandardCharsets.UTF_8), value));
  }


}
