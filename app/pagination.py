"""flask-smorest pagination over a SQLAlchemy select."""

from sqlalchemy import func, select

from app.extensions import db


def paginate_select(stmt, pagination_parameters) -> list:
    """Set the X-Pagination total and return the rows of the requested page."""
    pagination_parameters.item_count = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    page_size = pagination_parameters.page_size
    return list(db.session.scalars(stmt.offset((pagination_parameters.page - 1) * page_size).limit(page_size)))
