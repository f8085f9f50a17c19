package dev.nann.jobs;

import java.util.Map;
import java.util.Properties;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;

/** Kafka sinks of nann's jobs, built one way. */
final class KafkaSinks {
  private KafkaSinks() {}

  /**
   * @param kafkaProperties client properties given by the user ({@code kafka.properties.*}: security and
   *     tuning; the ones nann controls were refused when the settings were read)
   * @param exactlyOnce transactional (visible to read_committed consumers at checkpoints) or at-least-once
   * @param transactionalIdPrefix stable across restarts, unique per sink
   */
  static <T> KafkaSink<T> of(String bootstrap, Map<String, String> kafkaProperties, boolean exactlyOnce,
                             String transactionalIdPrefix, int transactionTimeoutMs,
                             KafkaRecordSerializationSchema<T> serializer) {
    Properties p = new Properties();
    p.setProperty("linger.ms", "0");   // answers are latency-bound; a user's linger.ms wins
    p.putAll(kafkaProperties);
    p.setProperty("transaction.timeout.ms", Integer.toString(transactionTimeoutMs));
    return KafkaSink.<T>builder()
        .setBootstrapServers(bootstrap)
        .setKafkaProducerConfig(p)
        .setRecordSerializer(serializer)
        .setDeliveryGuarantee(exactlyOnce ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE)
        .setTransactionalIdPrefix(transactionalIdPrefix)
        .build();
  }
}
