"""Reading images; reading and writing embedding files."""
from facerec.io.embeddings import EmbeddingTable, load_embeddings, save_embeddings
from facerec.io.images import MAX_PIXELS, ImageSource, load_image

__all__ = ["ImageSource", "load_image", "MAX_PIXELS", "EmbeddingTable", "load_embeddings", "save_embeddings"]
