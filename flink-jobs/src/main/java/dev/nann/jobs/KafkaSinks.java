package dev.nann.jobs;

import java.util.Properties;
import org.apache.flink.connector.base.DeliveryGuarantee;
import org.apache.flink.connector.kafka.sink.KafkaRecordSerializationSchema;
import org.apache.flink.connector.kafka.sink.KafkaSink;

/** Kafka sinks of nann's jobs, built one way. */
final class KafkaSinks {
  private KafkaSinks() {}

  /**
   * @param exactlyOnce transactional (visible to read_committed consumers at checkpoints) or at-least-once
   * @param transactionalIdPrefix stable across restarts, unique per sink
   */
  static <T> KafkaSink<T> of(String bootstrap, boolean exactlyOnce, String transactionalIdPrefix,
                             int transactionTimeoutMs, KafkaRecordSerializationSchema<T> serializer) {
    Properties p = new Properties();
    p.setProperty("transaction.timeout.ms", Integer.toString(transactionTimeoutMs));
    p.setProperty("linger.ms", "0");
    return KafkaSink.<T>builder()
        .setBootstrapServers(bootstrap)
        .setKafkaProducerConfig(p)
        .setRecordSerializer(serializer)
        .setDeliveryGuarantee(exactlyOnce ? DeliveryGuarantee.EXACTLY_ONCE : DeliveryGuarantee.AT_LEAST_ONCE)
        .setTransactionalIdPrefix(transactionalIdPrefix)
        .build();
  }
}
