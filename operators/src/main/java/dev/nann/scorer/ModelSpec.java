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
 */
public record ModelSpec(String version, String arch, int itemDim, int maxSeqLen, String userFile,
                        Map<String, String> userInputs, List<String> userOutputs, String scoreFile,
                        String userIdxName, String itemEmbName, String scoreOutput, String itemFile, String itemInput,
                        String itemOutput, int itemFeatDim) {
  /** Where a user input comes from: the behaviour items' embeddings [1, L, d], a 0/1 mask [1, L], their ids [1, L]. */
  public static final List<String> SOURCES = List.of("behavior_embeddings", "behavior_mask", "behavior_ids");
  public static final int FORMAT = 1;

  /** Reads and checks {@code dir/model.json}. */
  public static ModelSpec read(Path dir) {
    Path file = dir.resolve("model.json");
    if (!Files.isRegularFile(file)) {
      throw new ModelContractException("model directory " + dir + " has no model.json");
    }
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(file.toFile());
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
    return new ModelSpec(root.path("version").asText("unversioned"), root.path("arch").asText("unknown"), dim, seq,
        text(user, "file", file), Map.copyOf(inputs), List.copyOf(outputs), text(score, "file", file),
        text(score, "user_idx", file), text(score, "item_emb", file), text(score, "output", file),
        item.isMissingNode() ? null : text(item, "file", file), item.path("input").asText(null),
        item.path("output").asText(null), root.path("item_feat_dim").asInt(0));
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
