from django import forms


class SurveyForm(forms.Form):
    goals = forms.CharField(
        label="What do you want to get out of this session?",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )
    challenges = forms.CharField(
        label="What is getting in your way right now?",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
    )


class ScheduleForm(forms.Form):
    start = forms.DateTimeField()
