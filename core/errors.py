"""Typed errors whose message is a sentence fit to show the person who caused them."""

from __future__ import annotations


class ChorusError(Exception):
    """Base of every error a front end shows to a person as-is."""

    code = "error"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_message)

    default_message = "Something went wrong."

    @property
    def message(self) -> str:
        """The sentence to show."""
        return str(self.args[0])


class ConfigError(ChorusError):
    code = "config"
    default_message = "The configuration is not valid."


class NoTaskAvailable(ChorusError):
    code = "no_task"
    default_message = "There is no task for you right now. Please try again later."


class TaskExpired(ChorusError):
    code = "task_expired"
    default_message = "This task has expired. Please request a new one."


class NotYourTask(ChorusError):
    code = "not_your_task"
    default_message = "This task belongs to someone else. Request your own with /task."


class AlreadyAnswered(ChorusError):
    code = "already_answered"
    default_message = "This task has already been answered."


class TaskNotFound(ChorusError):
    code = "task_not_found"
    default_message = "This task does not exist."


class InvalidRanking(ChorusError):
    code = "invalid_ranking"
    default_message = "The ranking must order every reply exactly once."


class InvalidLabels(ChorusError):
    code = "invalid_labels"
    default_message = "The labels are not valid."


class EmptyText(ChorusError):
    code = "empty_text"
    default_message = "Your message is empty. Please write something."


class TextTooLong(ChorusError):
    code = "text_too_long"


class DuplicateText(ChorusError):
    code = "duplicate_text"
    default_message = "You sent the same text a short while ago. Please write something new."


class UserBanned(ChorusError):
    code = "banned"
    default_message = "You are banned from Chorus and cannot take part."


class TooManyPendingTasks(ChorusError):
    code = "too_many_pending"


class SlotTaken(ChorusError):
    code = "slot_taken"
    default_message = (
        "This conversation received enough replies while you were writing. "
        "Your text was not stored; please request a new task."
    )


class NotFound(ChorusError):
    code = "not_found"
    default_message = "That message or user does not exist."


class PermissionDenied(ChorusError):
    code = "forbidden"
    default_message = "You are not allowed to do that."


class InvalidInput(ChorusError):
    code = "invalid_input"
    default_message = "That input is not valid."
