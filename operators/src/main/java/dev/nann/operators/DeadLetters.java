package dev.nann.operators;

import dev.nann.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** Builds the dead letter for an input record that could not be used. */
public final class DeadLetters {
  /** Bytes of the original key and value kept in a dead letter (the rest is cut, and said so). */
  public static final int KEPT_BYTES = 64 * 1024;
  /** Characters of a reason kept (a reason quoting a hostile record could otherwise be as large as it). */
  public static final int KEPT_REASON_CHARS = 1024;

  private DeadLetters() {}

  /** A dead letter naming the record's topic, partition and offset, with the reason (cut to {@link #KEPT_REASON_CHARS}). */
  public static DeadLetter of(ConsumerRecord<byte[], byte[]> record, String reason) {
    DeadLetter d = new DeadLetter();
    d.setTopic(record.topic());
    d.setPartition(record.partition());
    d.setOffset(record.offset());
    d.setReason(reason.length() <= KEPT_REASON_CHARS ? reason
        : reason.substring(0, KEPT_REASON_CHARS) + "... (" + (reason.length() - KEPT_REASON_CHARS) + " more characters cut)");
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

  /**
   * The reason for a dead letter, for a person: the refusal's own message where nann wrote it (a
   * record too large, not Avro, of an unknown schema, with a length beyond its bytes, missing a
   * field), else what failed and how. Errors a record can cause (out of memory, stack overflow)
   * are reasons like any other; errors of the JVM itself are rethrown.
   */
  static String describe(Throwable t) {
    if (t instanceof VirtualMachineError e && !(e instanceof OutOfMemoryError) && !(e instanceof StackOverflowError)) {
      throw e;
    }
    String m = t.getMessage();
    if (t instanceof java.io.IOException || t instanceof IllegalArgumentException) {
      return "cannot decode: " + (m == null ? t.getClass().getSimpleName() : m);
    }
    return "cannot decode: " + t.getClass().getSimpleName() + (m == null ? "" : " (" + m + ")");
  }
}
