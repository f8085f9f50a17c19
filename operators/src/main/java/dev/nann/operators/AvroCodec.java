package dev.nann.operators;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro single-object encoding (magic, schema fingerprint, binary body) for one generated record
 * class: readers check the writer schema's fingerprint without a registry, and refuse records of
 * an unknown schema instead of misreading them. Thread-safe.
 *
 * @param <T> the generated record class
 */
public final class AvroCodec<T extends SpecificRecord> {
  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;

  private AvroCodec(Class<T> type) {
    SpecificData data = SpecificData.getForClass(type);
    org.apache.avro.Schema schema = data.getSchema(type);
    this.encoder = new BinaryMessageEncoder<>(data, schema);
    this.decoder = new BinaryMessageDecoder<>(data, schema);
  }

  public static <T extends SpecificRecord> AvroCodec<T> of(Class<T> type) {
    return new AvroCodec<>(type);
  }

  /** Encodes a record; fails on a record that does not satisfy its schema (a null in a non-null field). */
  public byte[] encode(T record) {
    try {
      ByteBuffer b = encoder.encode(record);
      byte[] out = new byte[b.remaining()];
      b.get(out);
      return out;
    } catch (IOException e) {
      throw new IllegalStateException("cannot encode " + record.getSchema().getName() + ": " + e.getMessage(), e);
    }
  }

  /**
   * Decodes one record.
   *
   * @throws IOException with the reason when the bytes are not a record of a known schema
   */
  public T decode(byte[] bytes) throws IOException {
    if (bytes == null) {
      throw new IOException("record has no value (null)");
    }
    return decoder.decode(bytes);
  }
}
