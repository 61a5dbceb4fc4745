"""Name faces with a classifier trained on labelled embeddings (SVM, logistic regression, k-NN, centroid)."""
from facerec.classification.classifiers import CLASSIFIERS, Classifier, make_classifier
from facerec.classification.evaluate import Evaluation, evaluate
from facerec.classification.model import UNKNOWN, FaceClassifier, Prediction
from facerec.classification.train import TrainResult, train_classifier

__all__ = ["CLASSIFIERS", "Classifier", "make_classifier", "Evaluation", "evaluate", "UNKNOWN", "FaceClassifier",
           "Prediction", "TrainResult", "train_classifier"]
