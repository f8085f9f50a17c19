package dev.nann.operators;

import dev.nann.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** Builds the dead letter for an input record that could not be used. */
public final class DeadLetters {
  /** Bytes of the original key and value kept in a dead letter (the rest is cut, and said so). */
  public static final int KEPT_BYTES = 64 * 1024;

  private DeadLetters() {}

  /** A dead letter naming the record's topic, partition and offset, with the reason. */
  public static DeadLetter of(ConsumerRecord<byte[], byte[]> record, String reason) {
    DeadLetter d = new DeadLetter();
    d.setTopic(record.topic());
    d.setPartition(record.partition());
    d.setOffset(record.offset());
    d.setReason(reason);
    d.setKey(keep(record.key()));
    d.setValue(keep(record.value()));
    d.setFailedAtMillis(System.currentTimeMillis());
    return d;
  }

  private static ByteBuffer keep(byte[] bytes) {
    if (bytes == null) {
      return null;
    }
    return ByteBuffer.wrap(bytes.length <= KEPT_BYTES ? bytes : Arrays.copyOf(bytes, KEPT_BYTES));
  }

  /** Short description of an exception for a dead letter's reason. */
  static String describe(Exception e) {
    String m = e.getMessage();
    return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }
}
