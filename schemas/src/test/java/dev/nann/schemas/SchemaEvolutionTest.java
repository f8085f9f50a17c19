package dev.nann.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.MissingSchemaException;
import org.apache.avro.message.SchemaStore;
import org.junit.jupiter.api.Test;

/** Values travel in Avro single-object encoding; a reader of version n reads version n+1 records. */
class SchemaEvolutionTest {
  @Test
  void singleObjectEncodingRoundTrips() throws Exception {
    RetrievalRequest r = RetrievalRequest.newBuilder().setRequestId("r-1").setUserId(42).setK(50)
        .setExcludeItems(List.of(7L, 9L)).build();
    ByteBuffer bytes = r.toByteBuffer();
    assertEquals((byte) 0xC3, bytes.get(0), "single-object marker");
    assertEquals((byte) 0x01, bytes.get(1));
    assertEquals(r, RetrievalRequest.fromByteBuffer(bytes));
  }

  /** Version n+1 adds a field with a default (the allowed kind of change). */
  static Schema nextVersion() {
    Schema v1 = RetrievalRequest.getClassSchema();
    List<Schema.Field> fields = new java.util.ArrayList<>();
    for (Schema.Field field : v1.getFields()) {
      fields.add(new Schema.Field(field, field.schema()));
    }
    fields.add(new Schema.Field("experiment", Schema.create(Schema.Type.STRING), "added in version n+1", "none"));
    return Schema.createRecord(v1.getName(), v1.getDoc(), v1.getNamespace(), false, fields);
  }

  @Test
  void readerOfVersionNReadsVersionNPlusOne() throws Exception {
    Schema v2 = nextVersion();
    GenericRecord rec = new GenericData.Record(v2);
    for (Schema.Field field : RetrievalRequest.getClassSchema().getFields()) {
      if (field.hasDefaultValue()) {
        rec.put(field.name(), GenericData.get().getDefaultValue(field));
      }
    }
    rec.put("requestId", "r-2");
    rec.put("userId", 7L);
    rec.put("k", 10);
    rec.put("experiment", "b");
    ByteBuffer bytes = new BinaryMessageEncoder<GenericRecord>(GenericData.get(), v2).encode(rec);

    // Without the writer schema the reader must refuse, with a clear exception, not misread.
    assertThrows(MissingSchemaException.class, () -> RetrievalRequest.fromByteBuffer(bytes.duplicate()));

    SchemaStore.Cache store = new SchemaStore.Cache();
    store.addSchema(v2);
    BinaryMessageDecoder<RetrievalRequest> reader = RetrievalRequest.createDecoder(store);
    RetrievalRequest read = reader.decode(bytes.duplicate());
    assertEquals("r-2", read.getRequestId());
    assertEquals(7L, read.getUserId());
    assertEquals(10, read.getK());
    assertEquals("nann", read.getMode(), "defaults fill what the writer did not set");
  }
}
