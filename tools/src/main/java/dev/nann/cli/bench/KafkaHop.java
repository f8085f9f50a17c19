package dev.nann.cli.bench;

import dev.nann.local.LatencyStats;
import dev.nann.local.LocalKafka;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The floor one Kafka hop sets on this machine: a bare producer (linger 0, as the client and the job
 * produce) to a bare read_committed consumer (as the job and the client read) through the same broker,
 * timed in one JVM. A request crosses two such hops (client to job, job to client), so twice this
 * p50 is time no change inside the job can win back.
 */
final class KafkaHop {
  private KafkaHop() {}

  /**
   * Send → receive latency of {@code count} 8-byte records at {@code rate}/s on a fresh topic, after
   * a first fifth of as many unreported ones (the clients' connections and the JIT settle).
   */
  static LatencyStats measure(LocalKafka kafka, double rate, int count) throws Exception {
    String topic = "nann-bench-kafka-hop";
    kafka.createTopics(List.of(topic), 1, Set.of());
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("linger.ms", "0");
    p.put("isolation.level", "read_committed");
    p.put("enable.auto.commit", "false");
    LatencyStats hop = new LatencyStats();
    TopicPartition tp = new TopicPartition(topic, 0);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
         KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.assign(List.of(tp));
      consumer.seekToEnd(List.of(tp));
      consumer.position(tp);
      int warm = count / 5;
      Thread sender = new Thread(() -> {
        long start = System.nanoTime();
        long interval = (long) (1e9 / rate);
        for (int i = 0; i < warm + count; i++) {
          Pacing.parkUntil(start + i * interval);
          producer.send(new ProducerRecord<>(topic, ByteBuffer.allocate(8).putLong(System.nanoTime()).array()));
        }
      }, "bench-kafka-hop");
      sender.start();
      long deadline = System.nanoTime() + (long) (((warm + count) / rate + 10) * 1e9);
      int received = 0;
      while (hop.count() < count && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(5))) {
          float ms = (System.nanoTime() - ByteBuffer.wrap(r.value()).getLong()) / 1e6f;
          if (received++ >= warm) {
            hop.add(ms);
          }
        }
      }
      sender.join();
    }
    return hop;
  }
}
