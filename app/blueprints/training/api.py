"""Training jobs and models API."""

from __future__ import annotations

from flask import current_app, url_for
from flask.views import MethodView

from app.api_auth import api_blueprint, api_user
from app.blueprints.training import service
from app.blueprints.training.exports import send_model_zip
from app.blueprints.training.schemas import (
    JobSchema,
    ModelSchema,
    PreviewRequestSchema,
    TrainingPreviewSchema,
    TrainingRequestSchema,
)
from app.extensions import db, limiter
from app.pagination import paginate_select
from app.ratelimits import per_user

api_bp = api_blueprint("training_api", __name__, description="Training jobs and models")



def _accepted(job):
    """202 with the job and its Location."""
    return service.job_resource(job), 202, {"Location": url_for("training_api.TrainingJob", job_id=job.id)}


@api_bp.route("/training-jobs/preview")
class TrainingPreview(MethodView):
    @api_bp.arguments(PreviewRequestSchema)
    @api_bp.response(200, TrainingPreviewSchema)
    def post(self, body):
        """The detected task and the features a request would use; 422 when it cannot be trained."""
        return service.preview(api_user(), body)


@api_bp.route("/training-jobs")
class TrainingJobs(MethodView):
    @api_bp.arguments(TrainingRequestSchema)
    @api_bp.response(202, JobSchema)
    @api_bp.alt_response(409, description="The same request is queued or running (its id in errors).")
    @limiter.limit(lambda: current_app.config["RATELIMIT_TRAINING"], key_func=per_user)
    def post(self, body):
        """Start a training job (checked first: 422 before any job when it cannot be trained)."""
        return _accepted(service.start(api_user(), body))

    @api_bp.paginate()
    @api_bp.response(200, JobSchema(many=True))
    def get(self, pagination_parameters):
        """Your training jobs, newest first."""
        rows = paginate_select(service.list_jobs(api_user()), pagination_parameters)
        return [service.job_resource(service.jobs.refresh(job)) for job in rows]


@api_bp.route("/training-jobs/<int:job_id>")
class TrainingJob(MethodView):
    @api_bp.response(200, JobSchema)
    def get(self, job_id):
        """A job with its live progress and, when done, its leaderboard."""
        return service.job_resource(service.get_job(api_user(), job_id))


@api_bp.route("/training-jobs/<int:job_id>/cancel")
class CancelJob(MethodView):
    @api_bp.response(202, JobSchema)
    @api_bp.alt_response(409, description="The job has already finished.")
    def post(self, job_id):
        """Cancel a queued or running job."""
        return _accepted(service.cancel(service.get_job(api_user(), job_id)))


@api_bp.route("/training-jobs/<int:job_id>/retry")
class RetryJob(MethodView):
    @api_bp.response(202, JobSchema)
    @api_bp.alt_response(409, description="Only a failed or cancelled job can be retried.")
    def post(self, job_id):
        """Start a new job with the same request."""
        return _accepted(service.retry(service.get_job(api_user(), job_id)))


@api_bp.route("/models")
class Models(MethodView):
    @api_bp.paginate()
    @api_bp.response(200, ModelSchema(many=True))
    def get(self, pagination_parameters):
        """Your models, newest first."""
        return paginate_select(service.list_models(api_user()), pagination_parameters)


@api_bp.route("/models/<int:model_id>")
class ModelItem(MethodView):
    @api_bp.response(200, ModelSchema)
    def get(self, model_id):
        """A model: metrics against the baseline, charts, importance, input schema."""
        return service.get_model(api_user(), model_id)

    @api_bp.response(204)
    def delete(self, model_id):
        """Delete a model."""
        service.delete_model(service.get_model(api_user(), model_id))
        db.session.commit()


@api_bp.route("/models/<int:model_id>/promote")
class Promote(MethodView):
    @api_bp.response(200, ModelSchema)
    def post(self, model_id):
        """Make this model the champion for its dataset and target."""
        model = service.promote(service.get_model(api_user(), model_id))
        db.session.commit()
        return model


@api_bp.route("/models/<int:model_id>/export")
class Export(MethodView):
    @api_bp.response(200, content_type="application/zip")
    def get(self, model_id):
        """The MLflow model directory as a zip (load it with mlflow.pyfunc.load_model)."""
        return send_model_zip(service.get_model(api_user(), model_id))
