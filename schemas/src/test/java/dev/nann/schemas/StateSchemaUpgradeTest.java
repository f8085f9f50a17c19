package dev.nann.schemas;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.nann.schemas.internal.DescriptorUpdate;
import dev.nann.schemas.internal.ScoringTask;
import dev.nann.schemas.internal.ServingOutput;
import dev.nann.schemas.internal.UserProfile;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.specific.SpecificRecord;
import org.apache.flink.api.common.typeutils.TypeSerializer;
import org.apache.flink.api.common.typeutils.TypeSerializerSchemaCompatibility;
import org.apache.flink.core.memory.DataInputDeserializer;
import org.apache.flink.core.memory.DataOutputSerializer;
import org.apache.flink.formats.avro.typeutils.AvroSerializer;
import org.apache.flink.formats.avro.typeutils.AvroSerializerSnapshot;
import org.apache.flink.util.StringUtils;
import org.junit.jupiter.api.Test;

/**
 * State written by an earlier job restores into today's classes through Flink's Avro serializer, as
 * a savepoint taken before an upgrade does: for every type the jobs keep in state (keyed, broadcast,
 * and the async operator's in-flight tasks) and every recorded version of its schema, the earlier
 * serializer's snapshot resolves against today's serializer (as is, or after migration) and a record
 * it wrote reads back as today's class with its values.
 */
class StateSchemaUpgradeTest {
  /**
   * Types in Flink state: serving's async in-flight tasks, shard gather, user profiles and
   * descriptors; index-sync's catalog and shard manifest. A new state type belongs here.
   */
  private static final List<Class<? extends SpecificRecord>> STATE_TYPES = List.of(ScoringTask.class,
      ServingOutput.class, UserProfile.class, DescriptorUpdate.class, IndexDescriptor.class, ItemEmbedding.class);

  @Test
  void stateOfEveryRecordedVersionRestores() throws Exception {
    int restored = 0;
    for (Class<? extends SpecificRecord> type : STATE_TYPES) {
      restored += restoreEveryVersion(type);
    }
    assertTrue(restored >= STATE_TYPES.size() + 6, "restored " + restored + " versions");
  }

  @Test
  void theSnapshotLayoutWrittenHereIsFlinks() throws Exception {
    // the earlier snapshots below are written by hand (class name, then schema); today's serializer
    // must write the same bytes for today's schema, or the test would restore something Flink never wrote
    AvroSerializer<ScoringTask> today = new AvroSerializer<>(ScoringTask.class);
    DataOutputSerializer flinks = new DataOutputSerializer(1024);
    today.snapshotConfiguration().writeSnapshot(flinks);
    assertArrayEquals(flinks.getCopyOfBuffer(), snapshotBytes(ScoringTask.class, ScoringTask.getClassSchema()));
  }

  private static <T extends SpecificRecord> int restoreEveryVersion(Class<T> type) throws Exception {
    Schema current = org.apache.avro.specific.SpecificData.get().getSchema(type);
    List<Schema> versions = SchemaHistory.versions(type.getSimpleName());
    AvroSerializer<T> today = new AvroSerializer<>(type);
    for (int v = 0; v < versions.size(); v++) {
      Schema old = versions.get(v);
      String what = type.getSimpleName() + " v" + (v + 1);
      // what the earlier job wrote: the record, and its serializer's snapshot (class name, writer schema)
      GenericData.Record written = SampleRecords.of(old, 17L * v + type.getName().hashCode());
      DataOutputSerializer state = new DataOutputSerializer(256);
      new AvroSerializer<>(GenericRecord.class, old).serialize(written, state);
      AvroSerializerSnapshot<T> earlier = new AvroSerializerSnapshot<>();
      earlier.readSnapshot(earlier.getCurrentVersion(), new DataInputDeserializer(snapshotBytes(type, old)),
          StateSchemaUpgradeTest.class.getClassLoader());

      TypeSerializerSchemaCompatibility<T> compat = today.snapshotConfiguration().resolveSchemaCompatibility(earlier);
      assertTrue(compat.isCompatibleAsIs() || compat.isCompatibleAfterMigration(), what + ": " + compat);

      TypeSerializer<T> restore = earlier.restoreSerializer();
      T read = restore.deserialize(new DataInputDeserializer(state.getCopyOfBuffer()));
      assertInstanceOf(type, read, what);
      SchemaHistoryTest.assertSameWhereUnchanged(written, (IndexedRecord) read, what);
      // migrated: today's serializer writes it and reads it back unchanged
      DataOutputSerializer migrated = new DataOutputSerializer(256);
      today.serialize(read, migrated);
      T again = today.deserialize(new DataInputDeserializer(migrated.getCopyOfBuffer()));
      assertTrue(read.equals(again), what + " after migration");
    }
    // state written by today's job restores as is, without a migration
    AvroSerializerSnapshot<T> own = new AvroSerializerSnapshot<>();
    own.readSnapshot(own.getCurrentVersion(), new DataInputDeserializer(snapshotBytes(type, current)),
        StateSchemaUpgradeTest.class.getClassLoader());
    assertTrue(today.snapshotConfiguration().resolveSchemaCompatibility(own).isCompatibleAsIs(), type.getSimpleName());
    return versions.size();
  }

  /** The layout of Flink's Avro serializer snapshot: the runtime class's name, then the writer schema. */
  private static byte[] snapshotBytes(Class<?> type, Schema writer) throws Exception {
    DataOutputSerializer out = new DataOutputSerializer(1024);
    StringUtils.writeString(type.getName(), out);
    StringUtils.writeString(writer.toString(false), out);
    return out.getCopyOfBuffer();
  }
}
