package dev.nann.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.IndexedRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.junit.jupiter.api.Test;

/**
 * Every schema's shipped versions are recorded ({@link SchemaHistory}), and none is left behind: the
 * current schema reads records of every recorded version (state in a savepoint, records from earlier
 * clients), and every recorded version of a topic schema reads the current one (earlier clients
 * reading a newer job's records).
 */
class SchemaHistoryTest {
  /** The .avsc sources (the test runs in the module's directory). */
  private static final Path SOURCES = Path.of("src/main/avro");

  /** Every current schema, parsed as the build parses them: topic schemas first, internal ones refer to them. */
  static List<Schema> currentSchemas() throws IOException {
    List<Path> files;
    try (Stream<Path> s = Files.walk(SOURCES)) {
      files = new ArrayList<>(s.filter(p -> p.toString().endsWith(".avsc")).sorted().toList());
    }
    files.sort(Comparator.comparing(p -> p.getParent().getFileName().toString().equals("internal") ? 1 : 0));
    Schema.Parser parser = new Schema.Parser();
    List<Schema> out = new ArrayList<>();
    for (Path f : files) {
      out.add(parser.parse(f.toFile()));
    }
    assertTrue(out.size() >= 10, "found only " + out.size() + " schemas under " + SOURCES.toAbsolutePath());
    return out;
  }

  static boolean isTopicSchema(Schema s) {
    return !s.getNamespace().endsWith(".internal");
  }

  @Test
  void everyCurrentSchemaIsItsNewestRecordedVersion() throws IOException {
    for (Schema current : currentSchemas()) {
      List<Schema> versions = SchemaHistory.versions(current.getName());
      Schema newest = versions.get(versions.size() - 1);
      assertEquals(current, newest, current.getName() + " differs from its newest recorded version v" + versions.size()
          + ": record the new one as schemas/src/main/resources/dev/nann/schemas/history/" + current.getName() + "/v"
          + (versions.size() + 1) + ".avsc (the schema's toString(true)), after this test's compatibility checks pass");
    }
  }

  @Test
  void theCurrentSchemaReadsEveryRecordedVersion() throws Exception {
    for (Schema current : currentSchemas()) {
      List<Schema> versions = SchemaHistory.versions(current.getName());
      for (int v = 0; v < versions.size(); v++) {
        Schema old = versions.get(v);
        var compat = SchemaCompatibility.checkReaderWriterCompatibility(current, old);
        assertEquals(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE, compat.getType(),
            current.getName() + " cannot read its v" + (v + 1) + ": " + compat.getResult().getIncompatibilities());
        GenericData.Record written = SampleRecords.of(old, 31L * v + current.getName().hashCode());
        Object read = new SpecificDatumReader<>(old, current, SpecificData.get())
            .read(null, DecoderFactory.get().binaryDecoder(bytes(old, written), null));
        assertInstanceOf(generatedClass(current), read, current.getName() + " v" + (v + 1));
        assertSameWhereUnchanged(written, (IndexedRecord) read, current.getName() + " v" + (v + 1));
      }
    }
  }

  @Test
  void everyRecordedVersionOfATopicSchemaReadsTheCurrentOne() throws Exception {
    int checked = 0;
    for (Schema current : currentSchemas()) {
      if (!isTopicSchema(current)) {
        continue;   // internal records live in state and between operators of one job version
      }
      for (Schema old : SchemaHistory.versions(current.getName())) {
        var compat = SchemaCompatibility.checkReaderWriterCompatibility(old, current);
        assertEquals(SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE, compat.getType(),
            "an earlier " + current.getName() + " reader cannot read the current one: " + compat.getResult().getIncompatibilities());
        checked++;
      }
    }
    assertTrue(checked >= 8, "checked " + checked);
  }

  @Test
  void aSchemaWithARequiredFieldAddedIsCaught() throws IOException {
    // the check above is not vacuous: a new field without a default cannot read the old records
    Schema current = dev.nann.schemas.internal.UserProfile.getClassSchema();
    List<Schema.Field> fields = new ArrayList<>();
    for (Schema.Field f : current.getFields()) {
      fields.add(new Schema.Field(f, f.schema()));
    }
    fields.add(new Schema.Field("tenant", Schema.create(Schema.Type.STRING), "no default", (Object) null));
    Schema next = Schema.createRecord(current.getName(), null, current.getNamespace(), false, fields);
    assertFalse(SchemaCompatibility.checkReaderWriterCompatibility(next, current).getType()
        == SchemaCompatibility.SchemaCompatibilityType.COMPATIBLE);
  }

  /** Fields whose schema is the same in both versions hold the same value after the read. */
  static void assertSameWhereUnchanged(IndexedRecord written, IndexedRecord read, String what) {
    int compared = 0;
    for (Schema.Field f : read.getSchema().getFields()) {
      Schema.Field was = written.getSchema().getField(f.name());
      if (was != null && sameShape(was.schema(), f.schema())) {
        assertEquals(GenericData.get().toString(written.get(was.pos())), GenericData.get().toString(read.get(f.pos())),
            what + " field " + f.name());
        compared++;
      }
    }
    assertTrue(compared > 0, what + ": no field compared");
  }

  /** Same parsing canonical form: docs, defaults and properties (the generated classes' string type) aside. */
  static boolean sameShape(Schema a, Schema b) {
    return SchemaNormalization.toParsingForm(a).equals(SchemaNormalization.toParsingForm(b));
  }

  static byte[] bytes(Schema schema, GenericData.Record record) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
    new GenericDatumWriter<GenericData.Record>(schema).write(record, enc);
    enc.flush();
    return out.toByteArray();
  }

  static Class<?> generatedClass(Schema s) {
    try {
      return Class.forName(s.getFullName());
    } catch (ClassNotFoundException e) {
      throw new AssertionError("no generated class " + s.getFullName(), e);
    }
  }
}
