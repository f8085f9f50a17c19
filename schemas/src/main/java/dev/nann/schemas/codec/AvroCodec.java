package dev.nann.schemas.codec;

import dev.nann.schemas.SchemaHistory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecord;

/**
 * Avro single-object encoding (magic, schema fingerprint, binary body) for one generated record
 * class: readers check the writer schema's fingerprint without a registry. A record written with
 * the current schema or any earlier shipped version of it ({@link SchemaHistory}: an earlier
 * client's) is read into the current class, fields it lacks taking their defaults; a record of any
 * other schema is refused instead of misread. Before decoding, every declared length and count is
 * checked against the bytes present under the schema it was written with ({@link AvroBounds}), so a
 * hostile record cannot make the decoder allocate more than its own size. Thread-safe.
 *
 * @param <T> the generated record class
 */
public final class AvroCodec<T extends SpecificRecord> {
  /** Single-object encoding: marker C3 01, then the schema's 8-byte fingerprint (little-endian). */
  private static final int HEADER = 10;

  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;
  private final Schema schema;
  private final long fingerprint;
  private final Map<Long, Schema> earlier = new HashMap<>();   // by fingerprint: the recorded versions before this one
  private final BinaryMessageEncoder<GenericRecord> earlierWriter;   // null: writes the current version
  private final ThreadLocal<GenericDatumReader<GenericRecord>> toEarlier;

  private AvroCodec(Class<T> type, int writeVersion) {
    SpecificData data = SpecificData.getForClass(type);
    this.schema = data.getSchema(type);
    this.fingerprint = SchemaNormalization.parsingFingerprint64(schema);
    this.encoder = new BinaryMessageEncoder<>(data, schema);
    this.decoder = new BinaryMessageDecoder<>(data, schema);
    List<Schema> versions = SchemaHistory.versions(schema.getName());
    for (Schema version : versions) {
      long fp = SchemaNormalization.parsingFingerprint64(version);
      if (fp != fingerprint) {
        earlier.put(fp, version);
        decoder.addSchema(version);
      }
    }
    if (writeVersion < 0 || writeVersion > versions.size()) {
      throw new IllegalArgumentException(schema.getName() + " has versions 1 to " + versions.size()
          + " (0 writes the current one); cannot write version " + writeVersion);
    }
    Schema target = writeVersion == 0 ? schema : versions.get(writeVersion - 1);
    if (SchemaNormalization.parsingFingerprint64(target) == fingerprint) {
      this.earlierWriter = null;
      this.toEarlier = null;
    } else {
      var compat = SchemaCompatibility.checkReaderWriterCompatibility(target, schema);
      if (compat.getType() != SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE) {
        throw new IllegalArgumentException(schema.getName() + " version " + writeVersion
            + " cannot hold a record of the current version: " + compat.getResult().getIncompatibilities());
      }
      this.earlierWriter = new BinaryMessageEncoder<>(GenericData.get(), target);
      this.toEarlier = ThreadLocal.withInitial(() -> new GenericDatumReader<>(schema, target));
    }
  }

  /** A codec that writes the current version of {@code type}'s schema and reads it and every earlier one. */
  public static <T extends SpecificRecord> AvroCodec<T> of(Class<T> type) {
    return new AvroCodec<>(type, 0);
  }

  /**
   * A codec that writes version {@code writeVersion} of {@code type}'s schema ({@link SchemaHistory}
   * numbers them from 1; 0 is the current one), so that readers built on that version go on reading
   * while they are upgraded: what the record holds beyond that version is left out. It reads as
   * {@link #of} does.
   *
   * @throws IllegalArgumentException if the version is not recorded, or cannot hold a record of the
   *     current version (a field it requires has no counterpart)
   */
  public static <T extends SpecificRecord> AvroCodec<T> of(Class<T> type, int writeVersion) {
    return new AvroCodec<>(type, writeVersion);
  }

  /** Encodes a record; fails on a record that does not satisfy its schema (a null in a non-null field). */
  public byte[] encode(T record) {
    try {
      ByteBuffer b = encoder.encode(record);
      if (earlierWriter != null) {
        // resolve the current record into the earlier version (its body follows the 10-byte header)
        GenericRecord old = toEarlier.get().read(null,
            DecoderFactory.get().binaryDecoder(b.array(), b.arrayOffset() + b.position() + HEADER, b.remaining() - HEADER, null));
        b = earlierWriter.encode(old);
      }
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
   * @throws IOException with a reason a person can act on when the bytes are not one record of this
   *     codec's schema
   */
  public T decode(byte[] bytes) throws IOException {
    if (bytes == null) {
      throw new IOException("record has no value (null)");
    }
    if (bytes.length < HEADER || bytes[0] != (byte) 0xC3 || bytes[1] != 0x01) {
      throw new IOException("not an Avro single-object record (it must start with C3 01 and the schema "
          + "fingerprint; " + bytes.length + " bytes)");
    }
    long fp = 0;
    for (int i = 9; i >= 2; i--) {
      fp = (fp << 8) | (bytes[i] & 0xff);
    }
    Schema writer = fp == fingerprint ? schema : earlier.get(fp);
    if (writer == null) {
      throw new IOException(String.format("written with an unknown schema (fingerprint %016x); this topic takes %s "
          + "(fingerprint %016x, or one of its %d earlier versions)", fp, schema.getFullName(), fingerprint,
          earlier.size()));
    }
    AvroBounds.check(writer, bytes, HEADER, bytes.length);
    try {
      return decoder.decode(bytes);
    } catch (RuntimeException e) {   // what the walk above cannot foresee still reaches callers as a refusal
      throw new IOException("not a valid " + schema.getName() + " record: " + e.getMessage(), e);
    }
  }
}
