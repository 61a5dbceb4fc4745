"""Fine-tuning: a small head trained with FaceNet's triplet loss on frozen base embeddings.

Training (``batches``, ``loss``, ``head``, ``train``, ``export``, ``workflow``) needs the ``finetune``
extra (PyTorch, CPU). Using a trained head (``card``, ``embedder``) needs only onnxruntime: the head is
exported to ONNX beside a JSON card, and ``--model 'arcface_mbf>my_head/'`` runs it on top of the base.
"""
