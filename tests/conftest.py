"""Shared fixtures: real face images shipped by installed packages, and one analyzer per session."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from support.milvus_server import milvus_server  # noqa: F401 - a real Milvus server, shared by the session


@pytest.fixture(scope="session")
def grace_path() -> Path:
    """matplotlib's sample photo of Grace Hopper (one face)."""
    import matplotlib.cbook as cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def grace_bgr(grace_path: Path) -> np.ndarray:
    img = cv2.imread(str(grace_path))
    assert img is not None
    return img


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, one face), as BGR."""
    import skimage.data

    return np.ascontiguousarray(skimage.data.astronaut()[..., ::-1])


@pytest.fixture(scope="session")
def astronaut_path(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    path = tmp_path_factory.mktemp("faces") / "astronaut.png"
    cv2.imwrite(str(path), astronaut_bgr)
    return path


@pytest.fixture(scope="session")
def analyzer():
    """The default FaceAnalyzer, loaded once for the whole session."""
    from facerec import FaceAnalyzer

    return FaceAnalyzer()


@pytest.fixture(params=["sqlite", "milvus"])
def gallery_backend(request) -> str:
    """A gallery backend: tests that take it run on SQLite + FAISS and on Milvus Lite (support.galleries.location)."""
    return request.param


def pytest_sessionfinish(session, exitstatus) -> None:
    """Whatever a test started is gone when the session ends, even after a failure or a timeout."""
    import sys

    clusters = sys.modules.get("support.ray_cluster")
    if clusters is not None:
        clusters.stop_all()


# Markers by what a test starts (registered in pyproject.toml; --strict-markers): `pytest -m "not slow"`
# is the quick loop, the README's line runs everything. Whole modules by what they start; single tests
# by their measured time (setup + call of 4 s or more in a full run with --durations=0, 2026-12-02).
_MODULE_MARKS = {
    "test_ray_engine": ("ray", "slow"),
    "test_service_ray": ("ray", "service", "milvus", "slow"),
    "test_milvus_writers": ("milvus", "slow"),
    "test_milvus_outage": ("milvus", "service", "slow"),
    "test_ray_milvus_enroll": ("ray", "milvus", "slow"),
    "test_cli_cluster_profiles": ("slow",),
    "test_webpage": ("browser", "slow"),
    "test_container": ("docker", "slow"),
    "test_service_openapi": ("service", "slow"),
    "test_service_inputs": ("service",),
    "test_cli_serve": ("service",),
}
_SLOW_TESTS = {
    "test_classification": {"test_classify_is_open_set_by_default", "test_cli_align_train_classify", "test_cli_model_remembers_its_embedder", "test_cli_plot_html_and_png", "test_every_classifier_names_held_out_faces", "test_mutated_classifier_files_load_or_raise"},
    "test_cli_dataset": {"test_align_min_face_reaches_both_workers", "test_align_reports_exactly_the_bad_files_and_aligns_the_rest", "test_align_two_workers_write_the_same_crops_as_one", "test_aligned_crop_is_a_face_of_the_same_person", "test_embed_aligned_crops_equals_embedding_raw_images", "test_interrupted_embed_resumes_from_its_shards", "test_killed_align_resumes_without_redoing_finished_files"},
    "test_cli_evaluate": {"test_bad_input_is_one_error_line", "test_evaluate_lfw_json_and_roc", "test_evaluate_pairs_generated_from_folders", "test_evaluate_with_everything_cached_does_not_start_ray"},
    "test_cli_faces": {"test_backend_option_runs_openvino_and_rejects_unknown_names", "test_console_script_runs_without_traceback", "test_embed_detector_knobs_reach_the_workers", "test_verify_bad_input_is_one_error_line"},
    "test_cli_finetune": {"test_finetune_then_use_the_head_everywhere"},
    "test_cli_gallery": {"test_enroll_dataset_parallel", "test_gallery_cli_end_to_end", "test_gallery_cli_errors", "test_gallery_detector_knobs_apply_to_enroll_and_identify", "test_gallery_reopened_by_another_process", "test_photos_with_several_faces_are_never_enrolled_silently"},
    "test_cli_main": {"test_corpus_through_every_image_command", "test_every_file_failing_is_exit_2_with_an_error_line", "test_links_followed_once_and_dangling_links_listed", "test_names_that_are_not_utf8_work_in_every_command", "test_person_names_cannot_drive_the_terminal"},
    "test_cli_quality_gate": {"test_enroll_skips_poor_faces_by_default_and_lists_why"},
    "test_cli_serve": {"test_port_in_use_is_one_error_line"},
    "test_cli_video": {"test_missing_camera_or_stream_fails_with_one_error_line", "test_tracks_keep_their_ids_and_get_names_from_the_gallery", "test_without_gallery_tracks_are_clustered_into_persons"},
    "test_clustering": {"test_cluster_cli_writes_folders_and_csv", "test_methods_separate_two_real_people"},
    "test_container": {"test_image_entry_command_in_clean_venv"},
    "test_dlib": {"test_dlib_hog_detector_feeds_the_analyzer", "test_hog_finds_grace_with_arcface_order_landmarks", "test_openface_alignment_puts_inner_eyes_and_lip_on_the_template"},
    "test_docs_site": {"test_docs_build_strict"},
    "test_evaluation_cache": {"test_runner_reuses_and_invalidates"},
    "test_examples": {"test_export_to_vector_db", "test_gallery_from_folder_names_a_group_photo", "test_verify_two_photos", "test_video_file_loop_follows_one_person"},
    "test_finetune_embedder": {"test_card_records_base_training_and_hash"},
    "test_finetune_train": {"test_semihard_loss_prefers_the_negative_just_beyond_the_positive"},
    "test_gallery": {"test_enroll_and_identify_real_faces", "test_export_import_roundtrip", "test_face_index_kinds", "test_pick_center_enrolls_the_central_face", "test_refuses_other_embedder", "test_rename_merge_delete", "test_reopens_with_the_embedder_it_was_made_with"},
    "test_gallery_durability": {"test_enroll_dataset_killed_then_resumed", "test_sigkill_mid_transactions_leaves_consistent_gallery"},
    "test_gallery_store": {"test_a_damaged_gallery_is_one_error_line"},
    "test_inference": {"test_backends_agree_on_real_faces", "test_models_pull_prepares_the_embedders_for_openvino", "test_openvino_preparation_is_cached_and_checked", "test_prepared_read_only_model_folder_compiles_into_the_user_cache", "test_read_only_model_folder_prepares_in_the_user_cache", "test_sface_initializer_inputs_removed_for_openvino"},
    "test_recognition": {"test_batch_equals_single", "test_embedder_id_parses_back_to_the_same_embedder", "test_output_shape_norm_and_dtype", "test_same_person_above_and_different_people_below"},
    "test_service": {"test_health_docs_and_page", "test_persons_lifecycle_and_identify"},
    "test_service_contract": {"test_every_response_matches_the_openapi_document"},
    "test_service_inputs": {"test_corpus_through_every_image_route", "test_hostile_json_is_a_4xx_and_the_connection_lives_on"},
    "test_service_openapi": {"test_no_server_error_and_responses_match_the_schema"},
    "test_service_security": {"test_the_factory_entry_point_applies_the_exposure_rule"},
    "test_service_video": {"test_video_job_names_faces_and_reports_progress"},
    "test_workflows_parallel": {"test_align_workers_die_with_their_parent"},
}


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        for name in _MODULE_MARKS.get(module, ()):
            item.add_marker(name)
        if getattr(item, "originalname", item.name) in _SLOW_TESTS.get(module, ()):
            item.add_marker("slow")
        if "milvus" in module or "[milvus" in item.name:
            item.add_marker("milvus")
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker("ray")
