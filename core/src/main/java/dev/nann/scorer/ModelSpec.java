package dev.nann.scorer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code model.json} of a model directory: the names nann feeds and reads, checked against the
 * ONNX files by {@link OnnxModel}.
 *
 * @param version model version (answers name it)
 * @param arch {@code two-sided}, {@code dnn} or {@code attention}
 * @param itemDim d of e_v
 * @param maxSeqLen behaviour items the user network takes (most recent kept)
 * @param userFile user network file
 * @param userInputs user network inputs, name to source ({@link #SOURCES})
 * @param userOutputs user state tensors, fed to the score network under the same names
 * @param scoreFile score network file
 * @param userIdxName score input naming each row's user state row
 * @param itemEmbName score input holding e_v [N, d]
 * @param scoreOutput score output [N]
 * @param itemFile optional item network file (null if absent)
 * @param itemInput item network input
 * @param itemOutput item network output
 * @param itemFeatDim width of the item network's input, 0 if absent
 * @param precision {@code fp32}, or {@code fp16} for networks exported in half precision (their
 *     inputs and outputs stay fp32, so the contract does not change)
 * @param checksums hex SHA-256 of each ONNX file, by file name, as listed in model.json
 */
public record ModelSpec(String version, String arch, int itemDim, int maxSeqLen, String userFile,
                        Map<String, String> userInputs, List<String> userOutputs, String scoreFile,
                        String userIdxName, String itemEmbName, String scoreOutput, String itemFile, String itemInput,
                        String itemOutput, int itemFeatDim, String precision, Map<String, String> checksums) {
  /** The largest d a model may declare (a score batch of 8,192 such rows takes 512 MiB). */
  public static final int MAX_ITEM_DIM = 16_384;
  /** The largest L a model may declare (serving's state.max-sequence cap). */
  public static final int MAX_SEQ_LEN = 10_000;

  /** Where a user input comes from: the behaviour items' embeddings [1, L, d], a 0/1 mask [1, L], their ids [1, L]. */
  public static final List<String> SOURCES = List.of("behavior_embeddings", "behavior_mask", "behavior_ids");
  public static final int FORMAT = 1;

  /** Reads and checks {@code dir/model.json}. */
  public static ModelSpec read(Path dir) {
    return read(dir, null);
  }

  /**
   * Reads and checks {@code dir/model.json}, whose bytes must have SHA-256 {@code pinned} (a model
   * descriptor's) unless it is null: the bytes hashed are the bytes parsed, so a file rewritten
   * between a check and a load cannot slip another spec in.
   */
  public static ModelSpec read(Path dir, String pinned) {
    Path file = dir.resolve("model.json");
    if (!Files.isRegularFile(file)) {
      throw new ModelContractException("model directory " + dir + " has no model.json");
    }
    JsonNode root;
    try {
      byte[] bytes = Files.readAllBytes(file);
      if (pinned != null && !sha256(bytes).equalsIgnoreCase(pinned)) {
        throw new ModelContractException(file + " has SHA-256 " + sha256(bytes) + " but its descriptor says " + pinned);
      }
      root = new ObjectMapper().readTree(bytes);
    } catch (IOException e) {
      throw new ModelContractException(file + " is not valid JSON: " + e.getMessage(), e);
    }
    int format = root.path("format").asInt(-1);
    if (format != FORMAT) {
      throw new ModelContractException(file + " has format " + format + "; this build reads format " + FORMAT);
    }
    JsonNode user = required(root, "user", file);
    JsonNode score = required(root, "score", file);
    java.util.LinkedHashMap<String, String> inputs = new java.util.LinkedHashMap<>();
    for (JsonNode in : required(user, "inputs", file)) {
      String name = text(in, "name", file);
      String source = text(in, "source", file);
      if (!SOURCES.contains(source)) {
        throw new ModelContractException(file + ": user input '" + name + "' has unknown source '" + source
            + "'; known sources are " + SOURCES);
      }
      inputs.put(name, source);
    }
    List<String> outputs = new ArrayList<>();
    required(user, "outputs", file).forEach(n -> outputs.add(n.asText()));
    List<String> state = new ArrayList<>();
    required(score, "user_state", file).forEach(n -> state.add(n.asText()));
    if (!state.equals(outputs)) {
      throw new ModelContractException(file + ": score.user_state " + state + " must equal user.outputs " + outputs);
    }
    JsonNode item = root.path("item");
    int dim = root.path("item_dim").asInt(0);
    int seq = root.path("max_seq_len").asInt(0);
    if (dim <= 0 || seq <= 0) {
      throw new ModelContractException(file + ": item_dim and max_seq_len must be positive, got " + dim + " and " + seq);
    }
    // bounds before anything is sized from them: a score batch holds 8,192 rows of d floats, twice
    if (dim > MAX_ITEM_DIM || seq > MAX_SEQ_LEN) {
      throw new ModelContractException(file + ": item_dim must be at most " + MAX_ITEM_DIM + " and max_seq_len at most "
          + MAX_SEQ_LEN + " (serving keeps at most that many behaviour items), got " + dim + " and " + seq);
    }
    return new ModelSpec(root.path("version").asText("unversioned"), root.path("arch").asText("unknown"), dim, seq,
        fileName(text(user, "file", file), "user.file", file), Map.copyOf(inputs), List.copyOf(outputs),
        fileName(text(score, "file", file), "score.file", file),
        text(score, "user_idx", file), text(score, "item_emb", file), text(score, "output", file),
        item.isMissingNode() ? null : fileName(text(item, "file", file), "item.file", file),
        item.isMissingNode() ? null : text(item, "input", file), item.isMissingNode() ? null : text(item, "output", file),
        root.path("item_feat_dim").asInt(0), precision(root, file), checksums(root, file));
  }

  /**
   * {@code name} when it names a file of the model directory itself: a "../x" or an absolute path
   * would have nann load (and a descriptor publish) a network from outside the directory its
   * checksums and the model root confine.
   */
  private static String fileName(String name, String field, Path file) {
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\")) {
      throw new ModelContractException(file + ": " + field + " names '" + name + "', which is not a file name in the "
          + "model directory (networks must lie in it, beside model.json)");
    }
    return name;
  }

  private static String precision(JsonNode root, Path file) {
    String p = root.path("precision").asText("fp32");
    if (!p.equals("fp32") && !p.equals("fp16")) {
      throw new ModelContractException(file + ": precision must be fp32 or fp16, got '" + p + "'");
    }
    return p;
  }

  private static Map<String, String> checksums(JsonNode root, Path file) {
    Map<String, String> sums = new java.util.TreeMap<>();
    JsonNode node = root.path("sha256");
    if (!node.isMissingNode() && !node.isObject()) {
      throw new ModelContractException(file + ": sha256 must map file names to hex SHA-256 checksums");
    }
    node.fields().forEachRemaining(e -> {
      // a file of the directory itself: a listed "../x" would have nann read and hash a file outside it
      sums.put(fileName(e.getKey(), "sha256", file), e.getValue().asText());
    });
    return Map.copyOf(sums);
  }

  /**
   * Checks every file model.json lists a checksum for; a model that lists none is accepted (hand-made
   * directories), but one that lists a file must match it byte for byte.
   */
  public void verifyChecksums(Path dir) {
    verifyChecksums(dir, java.util.Set.of());
  }

  /** {@link #verifyChecksums(Path)} for the listed files but {@code checkedElsewhere}. */
  public void verifyChecksums(Path dir, java.util.Set<String> checkedElsewhere) {
    for (Map.Entry<String, String> e : checksums.entrySet()) {
      Path f = dir.resolve(e.getKey());
      // a listed file that is absent is refused even when it is checked elsewhere: an optional network
      // (item.onnx) is only loaded when present, and a half-copied directory would pass without it
      if (!Files.isRegularFile(f)) {
        throw new ModelContractException("model directory " + dir + " lacks " + e.getKey() + " (listed in model.json)");
      }
      if (!checkedElsewhere.contains(e.getKey())) {
        requireListedChecksum(e.getKey(), f, sha256(f));
      }
    }
  }

  /** Refuses file {@code name} (read from {@code f}) whose SHA-256 {@code actual} is not the one model.json lists, if any. */
  void requireListedChecksum(String name, Path f, String actual) {
    String listed = checksums.get(name);
    if (listed != null && !actual.equalsIgnoreCase(listed)) {
      throw new ModelContractException(f + " has SHA-256 " + actual + " but model.json lists " + listed
          + " (corrupt or partly copied model)");
    }
  }

  /** The network files this model names: user, score, and item when it has one. */
  public java.util.Set<String> networkFiles() {
    java.util.Set<String> files = new java.util.HashSet<>(List.of(userFile, scoreFile));
    if (itemFile != null) {
      files.add(itemFile);
    }
    return files;
  }

  /** Hex SHA-256 of bytes. */
  public static String sha256(byte[] bytes) {
    try {
      return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }

  /** Hex SHA-256 of a file (model descriptors carry the one of model.json). */
  public static String sha256(Path file) {
    try (java.io.InputStream in = Files.newInputStream(file)) {
      java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[1 << 16];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
      return java.util.HexFormat.of().formatHex(md.digest());
    } catch (IOException e) {
      throw new ModelContractException("cannot read " + file + ": " + e.getMessage(), e);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static JsonNode required(JsonNode node, String field, Path file) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) {
      throw new ModelContractException(file + " lacks the field '" + field + "'");
    }
    return v;
  }

  private static String text(JsonNode node, String field, Path file) {
    return required(node, field, file).asText();
  }
}
